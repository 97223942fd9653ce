import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Access } from '../../api/access';
import { createLedgerflowClient } from '../../client';
import { appRouter } from '../../api/router';
import { startApiServer } from '../../api/server';
import type { ApiRole } from '../../core/config';
import { createLogger } from '../../infra/logger';
import { startTestStack, uniqueId, type TestStack } from '../support/stack';

const tokens: Record<ApiRole, string> = { admin: uniqueId('admin'), client: uniqueId('client'), metrics: uniqueId('metrics') };
const roles = Object.keys(tokens) as ApiRole[];
const appOrigin = 'https://app.example.com';

/**
 * What each procedure needs, by rule rather than by list, so a procedure added to the router is
 * covered without touching this file: system.health is public, the rest of system.* is for
 * admins, every aggregate's commands, queries and subscriptions are for clients.
 */
const needs = (path: string): Access => (path === 'system.health' ? 'public' : path.startsWith('system.') ? 'admin' : 'client');
/** Who may reach what: written out here, not imported, so the test checks the server's table. */
const mayReach: Record<Access, readonly ApiRole[]> = {
  public: roles,
  client: ['client', 'admin'],
  admin: ['admin'],
  metrics: ['metrics', 'admin'],
};
/** The HTTP endpoints beside /trpc. */
const endpoints: [string, Access][] = [
  ['/metrics', 'metrics'],
  ['/health', 'public'],
  ['/console', 'public'],
];

type ProcedureType = 'query' | 'mutation' | 'subscription';
// At run time the router keeps its procedures flat, by path (`cart.addItem`).
const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, { _def: { type: ProcedureType } }>).map(([path, p]) => ({ path, type: p._def.type }));

interface Answer {
  status: number;
  /** The tRPC error code, or OK. */
  code: string;
}

/** Reads a subscription's first server-sent event: its data, or the error it carries. */
async function firstEvent(response: Response): Promise<Answer> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { status: response.status, code: 'CLOSED' };
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: ?(.*)$/m.exec(block)?.[1];
        const data = /^data: ?(.*)$/m.exec(block)?.[1];
        if (event === 'serialized-error') {
          const shape = JSON.parse(data!) as { data: { code: string; httpStatus: number } };
          return { status: shape.data.httpStatus, code: shape.data.code };
        }
        if (data !== undefined && event !== 'connected' && event !== 'ping') return { status: response.status, code: 'OK' };
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/**
 * Calls a procedure with no input (authorization is decided before input is read) as a browser
 * or any HTTP client would. A subscription answers 200 and sends its refusal as the stream's
 * first event (how tRPC's httpSubscriptionLink reads it); its status here is the one that event names.
 */
async function callProcedure(base: string, path: string, type: ProcedureType, headers: Record<string, string> = {}, query = ''): Promise<Answer> {
  const url = `${base}/trpc/${path}${query}`;
  if (type === 'subscription') {
    const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers } });
    return firstEvent(response);
  }
  const response = await fetch(url, type === 'mutation' ? { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' } : { headers });
  const body = (await response.json()) as { error?: { data: { code: string } } };
  return { status: response.status, code: body.error?.data.code ?? 'OK' };
}

const bearer = (token: string | undefined): Record<string, string> => (token === undefined ? {} : { authorization: `Bearer ${token}` });

describe('roles and tokens (API_TOKENS with admin, client and metrics tokens)', { timeout: 240_000 }, () => {
  let stack: TestStack;
  let api: string;
  before(async () => {
    stack = await startTestStack({
      env: {
        API_TOKENS: `admin:${tokens.admin},client:${tokens.client},metrics:${tokens.metrics}`,
        API_HOST: '127.0.0.1',
        API_CORS_ORIGINS: appOrigin,
      },
    });
    api = stack.api!.url;
  });
  after(async () => {
    await stack?.stop();
  });

  it('enumerates the router: commands, queries and subscriptions of every aggregate, and the system procedures', () => {
    const types = new Set(procedures.map((p) => p.type));
    assert.deepEqual([...types].sort(), ['mutation', 'query', 'subscription']);
    for (const path of ['cart.addItem', 'cart.get', 'cart.onChange', 'system.health', 'system.projections', 'system.parked', 'system.redrive', 'system.rebuild']) {
      assert.ok(procedures.some((p) => p.path === path), path);
    }
  });

  it('refuses every procedure a missing or wrong token (401) and a role that falls short (403), and changes nothing', async () => {
    const failures: string[] = [];
    for (const { path, type } of procedures) {
      const access = needs(path);
      const cases: [string, Record<string, string>, number | 'allowed'][] = [
        ['no token', {}, access === 'public' ? 'allowed' : 401],
        ['a wrong token', bearer('not-a-token'), access === 'public' ? 'allowed' : 401],
        ['a token in another scheme', { authorization: `Basic ${tokens.admin}` }, access === 'public' ? 'allowed' : 401],
        ...roles.map((role): [string, Record<string, string>, number | 'allowed'] => [`a ${role} token`, bearer(tokens[role]), mayReach[access].includes(role) ? 'allowed' : 403]),
      ];
      for (const [label, headers, expected] of cases) {
        const answer = await callProcedure(api, path, type, headers);
        const ok =
          expected === 'allowed'
            ? answer.code !== 'UNAUTHORIZED' && answer.code !== 'FORBIDDEN'
            : answer.status === expected && answer.code === (expected === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN');
        if (!ok) failures.push(`${type} ${path} (${access}) with ${label}: expected ${expected}, got ${answer.status} ${answer.code}`);
      }
    }
    assert.deepEqual(failures, []);
    // The allowed calls carried no valid input either: nothing reached Temporal.
    const { count } = await stack.temporal.workflow.count();
    assert.equal(count, 0, 'nothing reached Temporal');
  });

  it('refuses /metrics a missing, wrong or client token; serves /health and /console to anyone', async () => {
    const failures: string[] = [];
    for (const [path, access] of endpoints) {
      const cases: [string, Record<string, string>, number][] = [
        ['no token', {}, access === 'public' ? 200 : 401],
        ['a wrong token', bearer('not-a-token'), access === 'public' ? 200 : 401],
        ...roles.map((role): [string, Record<string, string>, number] => [`a ${role} token`, bearer(tokens[role]), mayReach[access].includes(role) ? 200 : 403]),
      ];
      for (const [label, headers, expected] of cases) {
        const response = await fetch(`${api}${path}`, { headers });
        await response.arrayBuffer();
        if (response.status !== expected) failures.push(`${path} with ${label}: expected ${expected}, got ${response.status}`);
        if (response.status === 401 && response.headers.get('www-authenticate') !== 'Bearer') failures.push(`${path} with ${label}: no WWW-Authenticate`);
      }
    }
    assert.deepEqual(failures, []);
    const refused = (await (await fetch(`${api}/metrics`, { headers: bearer(tokens.client) })).json()) as { error: { data: { code: string } } };
    assert.equal(refused.error.data.code, 'FORBIDDEN');
    assert.match(await (await fetch(`${api}/metrics`, { headers: bearer(tokens.metrics) })).text(), /ledgerflow_api_requests_total/);
  });

  it('accepts a subscription token in connectionParams (what httpSubscriptionLink sends), and only for subscriptions', async () => {
    const params = (token: string) => `?connectionParams=${encodeURIComponent(JSON.stringify({ token }))}`;
    const subscribe = (token: string) => callProcedure(api, 'cart.onChange', 'subscription', {}, params(token));
    assert.deepEqual(await subscribe('not-a-token'), { status: 401, code: 'UNAUTHORIZED' });
    assert.deepEqual(await subscribe(tokens.metrics), { status: 403, code: 'FORBIDDEN' });
    // Past authorization: the empty input is what is refused now.
    assert.deepEqual(await subscribe(tokens.client), { status: 400, code: 'BAD_REQUEST' });

    // A live stream with the token in connectionParams: the cart as it changes.
    const cartId = uniqueId('params');
    const input = `&input=${encodeURIComponent(JSON.stringify({ cartId }))}`;
    const stream = fetch(`${api}/trpc/cart.onChange${params(tokens.client)}${input}`, { headers: { accept: 'text/event-stream' } });
    const first = await firstEventWithin(stream, async () => {
      const response = await fetch(`${api}/trpc/cart.addItem`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearer(tokens.client) },
        body: JSON.stringify({ cartId, itemId: 'a', quantity: 1, price: 1 }),
      });
      assert.equal(response.status, 200);
    });
    assert.equal(first.code, 'OK');

    // Through tRPC's own httpSubscriptionLink (the client helper sets connectionParams: { token }).
    const viaLink = (token: string) =>
      new Promise<{ data?: { cartId: string }; code?: string }>((resolve) => {
        const subscription = createLedgerflowClient({ url: api, token }).cart.onChange.subscribe(
          { cartId },
          {
            onData: ({ data }) => (subscription.unsubscribe(), resolve({ data })),
            onError: (error) => (subscription.unsubscribe(), resolve({ code: error.data?.code })),
          },
        );
      });
    assert.equal((await viaLink(tokens.client)).data?.cartId, cartId);
    assert.equal((await viaLink(tokens.metrics)).code, 'FORBIDDEN');
    assert.equal((await viaLink('not-a-token')).code, 'UNAUTHORIZED');

    // Queries and mutations take the token from the Authorization header only: no tokens in URLs.
    for (const { path, type } of procedures.filter((p) => p.type !== 'subscription' && needs(p.path) !== 'public')) {
      const answer = await callProcedure(api, path, type, {}, params(tokens.admin));
      assert.equal(answer.code, 'UNAUTHORIZED', `${path} with the token in connectionParams`);
    }
  });

  it('answers CORS preflights for allowed origins only, without credentials', async () => {
    const preflight = (origin: string) =>
      fetch(`${api}/trpc/cart.addItem`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, x-correlation-id' },
      });
    const allowed = await preflight(appOrigin);
    assert.equal(allowed.status, 204);
    assert.equal(allowed.headers.get('access-control-allow-origin'), appOrigin);
    assert.match(allowed.headers.get('access-control-allow-methods') ?? '', /POST/);
    for (const header of ['authorization', 'content-type', 'x-correlation-id', 'trpc-accept']) {
      assert.ok((allowed.headers.get('access-control-allow-headers') ?? '').split(/,\s*/).includes(header), header);
    }
    assert.equal(allowed.headers.get('access-control-allow-credentials'), null, 'tokens, not cookies');
    assert.match(allowed.headers.get('vary') ?? '', /Origin/);

    const other = await preflight('https://evil.example.com');
    assert.equal(other.status, 403);
    assert.equal(other.headers.get('access-control-allow-origin'), null);

    // The actual calls: the allowed origin may read the answer (a refusal included), another may not.
    const fromApp = await fetch(`${api}/trpc/system.projections`, { headers: { origin: appOrigin, ...bearer(tokens.client) } });
    assert.equal(fromApp.status, 403);
    assert.equal(fromApp.headers.get('access-control-allow-origin'), appOrigin);
    const fromOther = await fetch(`${api}/trpc/system.projections`, { headers: { origin: 'https://evil.example.com', ...bearer(tokens.admin) } });
    assert.equal(fromOther.headers.get('access-control-allow-origin'), null);
    const sse = await fetch(`${api}/trpc/cart.onChange?input=${encodeURIComponent(JSON.stringify({ cartId: 'x' }))}`, {
      headers: { origin: appOrigin, accept: 'text/event-stream', ...bearer(tokens.client) },
    });
    assert.equal(sse.headers.get('access-control-allow-origin'), appOrigin, 'subscriptions too');
    await sse.body?.cancel();
  });

  it('without API_TOKENS: open to every call, loopback only, and no CORS unless configured', async () => {
    const log = createLogger('test', 'silent');
    await assert.rejects(
      startApiServer({ ...stack.config, API_TOKENS: [], API_HOST: '0.0.0.0', API_PORT: 0 }, log),
      /needs API_TOKENS/,
    );
    const open = await startApiServer({ ...stack.config, API_TOKENS: [], API_HOST: undefined, API_PORT: 0, API_CORS_ORIGINS: [] }, log);
    try {
      assert.match(open.url, /^http:\/\/127\.0\.0\.1:/);
      assert.equal((open.server.address() as { address: string }).address, '127.0.0.1');
      for (const { path, type } of procedures) {
        const answer = await callProcedure(open.url, path, type);
        assert.ok(answer.code !== 'UNAUTHORIZED' && answer.code !== 'FORBIDDEN', `${path}: ${answer.code}`);
      }
      assert.equal((await fetch(`${open.url}/metrics`)).status, 200);
      const preflight = await fetch(`${open.url}/trpc/cart.addItem`, { method: 'OPTIONS', headers: { origin: appOrigin, 'access-control-request-method': 'POST' } });
      assert.equal(preflight.status, 403, 'no origin is allowed by default');
      assert.equal(preflight.headers.get('access-control-allow-origin'), null);
    } finally {
      await open.close(1000);
    }
  });
});

/** Opens a stream, does `act` once it is connected, and returns its first data (or error) event. */
async function firstEventWithin(stream: Promise<Response>, act: () => Promise<void>): Promise<Answer> {
  const response = await stream;
  assert.equal(response.status, 200);
  const event = firstEvent(response);
  await act();
  return event;
}
