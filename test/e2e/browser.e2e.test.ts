import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from '../support/browser';
import { startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';

const token = uniqueId('client');

/** What a page of another origin gets from the API, as the browser lets it see it. */
interface Outcome {
  ok: boolean;
  status?: number;
  body?: unknown;
  error?: string;
}

/** A mutation with the token in its Authorization header: a preflighted cross-origin POST. */
const mutate = (page: Page, api: string, path: string, input: unknown) =>
  page.evaluate(
    async ({ api, path, input, token }): Promise<Outcome> => {
      try {
        const response = await fetch(`${api}/trpc/${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify(input),
        });
        return { ok: response.ok, status: response.status, body: await response.json() };
      } catch (error) {
        return { ok: false, error: String(error) };
      }
    },
    { api, path, input, token },
  );

/**
 * A subscription through the browser's own EventSource, the token in connectionParams (as
 * httpSubscriptionLink sends it). Plain JavaScript in a string: tsx would wrap named functions
 * in a helper the page does not have.
 */
const subscribeInPage = `async ({ api, input, connectionToken }) => new Promise((resolve, reject) => {
  const params = 'connectionParams=' + encodeURIComponent(JSON.stringify({ token: connectionToken })) + '&input=' + encodeURIComponent(JSON.stringify(input));
  const source = new EventSource(api + '/trpc/account.onChange?' + params);
  const timer = setTimeout(() => { source.close(); reject(new Error('no message within 30 s')); }, 30000);
  const done = (value) => { clearTimeout(timer); source.close(); resolve(value); };
  source.addEventListener('message', (event) => done({ kind: 'data', id: event.lastEventId, data: JSON.parse(event.data) }));
  source.addEventListener('serialized-error', (event) => done({ kind: 'error', data: JSON.parse(event.data) }));
  source.onerror = () => { if (source.readyState === EventSource.CLOSED) { clearTimeout(timer); reject(new Error('the EventSource was refused')); } };
})`;
const firstMessage = (page: Page, api: string, input: unknown, connectionToken: string) =>
  page.evaluate(`(${subscribeInPage})(${JSON.stringify({ api, input, connectionToken })})`) as Promise<{ kind: 'data' | 'error'; id?: string; data: unknown }>;

describe('a browser app on another origin', { timeout: 240_000 }, () => {
  let stack: LedgerStack;
  let browser: TestBrowser;
  let app: Server;
  let appPort: number;
  before(async () => {
    // The app's page: served on its own port, so http://localhost:<port> is another origin than the API's http://127.0.0.1:<port>.
    app = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>an app</title><p>an app'));
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    appPort = (app.address() as AddressInfo).port;
    stack = await startLedgerStack({
      env: { API_TOKENS: `client:${token}`, API_HOST: '127.0.0.1', API_CORS_ORIGINS: `http://localhost:${appPort}` },
    });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
    app?.close();
  });

  it('calls commands with a bearer token and subscribes with the token in connectionParams, from an allowed origin only', async () => {
    const api = stack.api!.url;
    const page = await browser.context.newPage();
    await page.goto(`http://localhost:${appPort}/`);

    const accountId = uniqueId('browser');
    const added = await mutate(page, api, 'account.deposit', { accountId, entryId: 'a', amount: 3, wait: 'projected' });
    assert.equal(added.ok, true, JSON.stringify(added));
    assert.equal((added.body as { result: { data: { version: number } } }).result.data.version, 1);

    const message = await firstMessage(page, api, { accountId }, token);
    assert.equal(message.kind, 'data');
    assert.equal(message.id, '1');
    assert.equal((message.data as { accountId: string }).accountId, accountId);

    const refused = await firstMessage(page, api, { accountId }, 'not-a-token');
    assert.equal(refused.kind, 'error');
    assert.equal((refused.data as { data: { code: string } }).data.code, 'UNAUTHORIZED');

    // The same page on an origin not listed: the browser refuses the preflight, and the call never runs.
    const other = await browser.context.newPage();
    await other.goto(`http://127.0.0.1:${appPort}/`);
    const blocked = await mutate(other, api, 'account.deposit', { accountId, entryId: 'b', amount: 1 });
    assert.equal(blocked.ok, false);
    assert.match(blocked.error ?? '', /Failed to fetch/);
    const account = (await (await fetch(`${api}/trpc/account.get?input=${encodeURIComponent(JSON.stringify({ accountId }))}`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      result: { data: { entries: unknown[]; version: number } };
    };
    assert.deepEqual([account.result.data.entries.length, account.result.data.version], [1, 1], 'nothing deposited from the other origin');
    await Promise.all([page.close(), other.close()]);
  });
});
