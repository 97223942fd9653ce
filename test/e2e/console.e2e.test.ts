import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { createLedgerflowClient, type LedgerflowClient } from '../../client/index';
import type { LedgerRouter } from '../support/domains/ledger.config';
import { defineProjection } from '../../core/projection';
import { account, accountProjection } from '../support/domains/ledger/account';
import { launchBrowser, type TestBrowser } from '../support/browser';
import { eventually, startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';
import { publishAccountFiller } from '../support/stream';

const artifacts = resolve(__dirname, '..', 'artifacts');
const tokens = { admin: uniqueId('admin'), client: uniqueId('client') };

/**
 * Deposit counts per account, beside the account projection: its handler refuses a 'poison'
 * entry until fixed, and can be slowed (per event) so a rebuild lasts long enough to be watched.
 */
const handler = { poisonFixed: false, slowMs: 0 };
const pause = new Int32Array(new SharedArrayBuffer(4));
const depositCounts = defineProjection<{ accountId: string; deposits: number; version: number }, typeof account.events>({
  name: 'deposit-counts',
  version: 1,
  source: account,
  evolve(doc, event) {
    if (handler.slowMs > 0) Atomics.wait(pause, 0, 0, handler.slowMs);
    const current = doc ?? { accountId: event.aggregateId, deposits: 0, version: 0 };
    if (event.type === 'Deposited') {
      if (event.payload.entryId === 'poison' && !handler.poisonFixed) throw new Error('cannot count poison: no rate for it');
      return { ...current, deposits: current.deposits + 1, version: event.version };
    }
    return { ...current, version: event.version };
  },
});

describe('projection console in headless Chromium', { timeout: 300_000 }, () => {
  let stack: LedgerStack;
  let browser: TestBrowser;
  let client: LedgerflowClient<LedgerRouter>;
  before(async () => {
    stack = await startLedgerStack({
      projections: [accountProjection, depositCounts],
      env: { API_TOKENS: `admin:${tokens.admin},client:${tokens.client}`, API_HOST: '127.0.0.1' },
    });
    client = createLedgerflowClient<LedgerRouter>({ url: stack.api!.url, token: tokens.admin });
    browser = await launchBrowser();
    await mkdir(artifacts, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  /** Every page's script errors and failed requests, so a broken page fails the test. */
  function watch(page: Page) {
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    return problems;
  }
  const card = (page: Page, name: string) => page.locator(`section.card[data-projection="${name}"]`);
  const screenshot = async (page: Page, name: string) => {
    const path = join(artifacts, name);
    await page.screenshot({ path, fullPage: true });
    console.log(`screenshot: ${path}`);
  };

  it('refuses a client token and a wrong one, saying why', async () => {
    for (const [token, expected] of [
      [tokens.client, /needs an admin token \(FORBIDDEN\)|FORBIDDEN/],
      ['not-a-token', /UNAUTHORIZED/],
    ] as const) {
      const page = await browser.context.newPage();
      await page.goto(`${stack.api!.url}/console#token=${token}`);
      await page.locator('#message').filter({ hasText: expected }).waitFor({ timeout: 30_000 });
      assert.equal(await page.locator('section.card').count(), 0, 'no projection shown');
      await page.close();
    }
  });

  it('shows each projection, its lag over time, parked events with a re-drive, and a rebuild with its progress', async () => {
    const page = await browser.context.newPage();
    const problems = watch(page);
    await page.goto(`${stack.api!.url}/console#token=${tokens.admin}`);
    assert.ok(!page.url().includes(tokens.admin), 'the token leaves the address bar');
    for (const name of ['accounts', 'deposit-counts']) {
      await card(page, name).locator('[data-field=state]').filter({ hasText: 'live' }).waitFor({ timeout: 60_000 });
    }

    // Lag: the slowed handler falls behind a burst of events, then catches up; the chart draws both.
    handler.slowMs = 1;
    await publishAccountFiller(stack.rabbit, stack.config.EVENTS_EXCHANGE, 3000);
    await card(page, 'deposit-counts').locator('.stat.alert').first().waitFor({ timeout: 60_000 });
    await eventually(async () => {
      const s = (await client.system.projections.query()).find((p) => p.name === 'deposit-counts')!;
      return s.lagEvents === 0 ? true : undefined;
    }, 120_000, 'deposit-counts caught up');
    handler.slowMs = 0;
    await page.locator('#chart polyline[data-projection="deposit-counts"]').waitFor({ timeout: 30_000 });

    // A poison event parks (with the one behind it); the page lists both with their errors.
    const sick = uniqueId('sick');
    await client.account.deposit.mutate({ accountId: sick, entryId: 'ok', amount: 1 });
    await client.account.deposit.mutate({ accountId: sick, entryId: 'poison', amount: 1 });
    await client.account.deposit.mutate({ accountId: sick, entryId: 'ok-2', amount: 1 });
    const parkedRows = card(page, 'deposit-counts').locator('[data-field=parked-event]');
    await eventually(async () => ((await parkedRows.count()) === 2 ? true : undefined), 60_000, 'two parked rows in the page');
    assert.match(await parkedRows.nth(0).innerText(), /cannot count poison/);
    assert.match(await parkedRows.nth(1).innerText(), /waiting behind an earlier parked event/);
    assert.equal(await card(page, 'deposit-counts').locator('[data-field=parked]').innerText(), '2');
    assert.equal(await card(page, 'accounts').locator('[data-field=no-parked]').count(), 1, 'the account projection parked nothing');
    await screenshot(page, 'console-parked.png');

    // Fixed: re-drive from the page; the events are applied and the list empties.
    handler.poisonFixed = true;
    await card(page, 'deposit-counts').locator('button[data-action=redrive]').click();
    await card(page, 'deposit-counts').locator('[data-field=redrive-note]').filter({ hasText: 'Re-drive requested for 2 parked events' }).waitFor({ timeout: 30_000 });
    await card(page, 'deposit-counts').locator('[data-field=no-parked]').waitFor({ timeout: 60_000 });
    const healed = await eventually(() => stack.readModels.get(depositCounts, sick).then((d) => (d?.version === 3 ? d : undefined)), 30_000, 'poison applied');
    assert.equal(healed.deposits, 3);

    // Rebuild from the page (a second click confirms); the progress bar moves, then the new generation is live.
    handler.slowMs = 2;
    const rebuild = card(page, 'deposit-counts').locator('button[data-action=rebuild]');
    await rebuild.click();
    assert.equal(await rebuild.innerText(), 'Confirm rebuild');
    await rebuild.click();
    const progress = card(page, 'deposit-counts').locator('[data-field=rebuild] [role=progressbar]');
    await progress.waitFor({ timeout: 60_000 });
    const seen = new Set<number>();
    let shot = false;
    await eventually(
      async () => {
        if (await progress.count()) {
          const value = Number(await progress.getAttribute('aria-valuenow').catch(() => null));
          if (Number.isFinite(value)) seen.add(value);
          if (!shot && value > 0) {
            shot = true;
            await screenshot(page, 'console-rebuilding.png');
          }
        }
        return (await card(page, 'deposit-counts').locator('[data-field=rebuilt]').count()) > 0 ? true : undefined;
      },
      180_000,
      'the page shows the rebuild finished',
    );
    handler.slowMs = 0;
    assert.ok(seen.size >= 2, `the progress bar moved: ${[...seen].join(', ')}`);
    assert.match(await card(page, 'deposit-counts').locator('[data-field=rebuilt]').innerText(), /Rebuilt into generation 2/);
    const status = (await client.system.projections.query()).find((p) => p.name === 'deposit-counts')!;
    assert.equal(status.generation, 2);
    assert.equal((await stack.readModels.get(depositCounts, sick))?.deposits, 3, 'the rebuilt generation has the re-driven events');

    await screenshot(page, 'console.png');
    assert.deepEqual(problems, []);
    await page.close();
  });
});
