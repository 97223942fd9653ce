import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { createLedgerflowClient, type LedgerflowClient } from '../../client/index';
import type { AppRouter } from '../../examples/shop/ledgerflow.config';
import { defineProjection } from '../../core/projection';
import { cart, cartProjection } from '../../examples/shop/domain';
import { launchBrowser, type TestBrowser } from '../support/browser';
import { eventually, startTestStack, uniqueId, type TestStack } from '../support/stack';
import { publishCartFiller } from '../support/stream';

const artifacts = resolve(__dirname, '..', 'artifacts');
const tokens = { admin: uniqueId('admin'), client: uniqueId('client') };

/**
 * Item counts per cart, beside the cart projection: its handler refuses a 'poison' item until
 * fixed, and can be slowed (per event) so a rebuild lasts long enough to be watched.
 */
const handler = { poisonFixed: false, slowMs: 0 };
const pause = new Int32Array(new SharedArrayBuffer(4));
const itemCounts = defineProjection<{ cartId: string; lines: number; version: number }, typeof cart.events>({
  name: 'item-counts',
  version: 1,
  source: cart,
  evolve(doc, event) {
    if (handler.slowMs > 0) Atomics.wait(pause, 0, 0, handler.slowMs);
    const current = doc ?? { cartId: event.aggregateId, lines: 0, version: 0 };
    if (event.type === 'ItemAddedToCart') {
      if (event.payload.itemId === 'poison' && !handler.poisonFixed) throw new Error('cannot count poison: no price list for it');
      return { ...current, lines: current.lines + 1, version: event.version };
    }
    return { ...current, version: event.version };
  },
});

describe('projection console in headless Chromium', { timeout: 300_000 }, () => {
  let stack: TestStack;
  let browser: TestBrowser;
  let client: LedgerflowClient<AppRouter>;
  before(async () => {
    stack = await startTestStack({
      projections: [cartProjection, itemCounts],
      env: { API_TOKENS: `admin:${tokens.admin},client:${tokens.client}`, API_HOST: '127.0.0.1' },
    });
    client = createLedgerflowClient<AppRouter>({ url: stack.api!.url, token: tokens.admin });
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
    for (const name of ['carts', 'item-counts']) {
      await card(page, name).locator('[data-field=state]').filter({ hasText: 'live' }).waitFor({ timeout: 60_000 });
    }

    // Lag: the slowed handler falls behind a burst of events, then catches up; the chart draws both.
    handler.slowMs = 1;
    await publishCartFiller(stack.rabbit, stack.config.EVENTS_EXCHANGE, 3000);
    await card(page, 'item-counts').locator('.stat.alert').first().waitFor({ timeout: 60_000 });
    await eventually(async () => {
      const s = (await client.system.projections.query()).find((p) => p.name === 'item-counts')!;
      return s.lagEvents === 0 ? true : undefined;
    }, 120_000, 'item-counts caught up');
    handler.slowMs = 0;
    await page.locator('#chart polyline[data-projection="item-counts"]').waitFor({ timeout: 30_000 });

    // A poison event parks (with the one behind it); the page lists both with their errors.
    const sick = uniqueId('sick');
    await client.cart.addItem.mutate({ cartId: sick, itemId: 'ok', quantity: 1, price: 1 });
    await client.cart.addItem.mutate({ cartId: sick, itemId: 'poison', quantity: 1, price: 1 });
    await client.cart.addItem.mutate({ cartId: sick, itemId: 'ok-2', quantity: 1, price: 1 });
    const parkedRows = card(page, 'item-counts').locator('[data-field=parked-event]');
    await eventually(async () => ((await parkedRows.count()) === 2 ? true : undefined), 60_000, 'two parked rows in the page');
    assert.match(await parkedRows.nth(0).innerText(), /cannot count poison/);
    assert.match(await parkedRows.nth(1).innerText(), /waiting behind an earlier parked event/);
    assert.equal(await card(page, 'item-counts').locator('[data-field=parked]').innerText(), '2');
    assert.equal(await card(page, 'carts').locator('[data-field=no-parked]').count(), 1, 'the cart projection parked nothing');
    await screenshot(page, 'console-parked.png');

    // Fixed: re-drive from the page; the events are applied and the list empties.
    handler.poisonFixed = true;
    await card(page, 'item-counts').locator('button[data-action=redrive]').click();
    await card(page, 'item-counts').locator('[data-field=redrive-note]').filter({ hasText: 'Re-drive requested for 2 parked events' }).waitFor({ timeout: 30_000 });
    await card(page, 'item-counts').locator('[data-field=no-parked]').waitFor({ timeout: 60_000 });
    const healed = await eventually(() => stack.readModels.get(itemCounts, sick).then((d) => (d?.version === 3 ? d : undefined)), 30_000, 'poison applied');
    assert.equal(healed.lines, 3);

    // Rebuild from the page (a second click confirms); the progress bar moves, then the new generation is live.
    handler.slowMs = 2;
    const rebuild = card(page, 'item-counts').locator('button[data-action=rebuild]');
    await rebuild.click();
    assert.equal(await rebuild.innerText(), 'Confirm rebuild');
    await rebuild.click();
    const progress = card(page, 'item-counts').locator('[data-field=rebuild] [role=progressbar]');
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
        return (await card(page, 'item-counts').locator('[data-field=rebuilt]').count()) > 0 ? true : undefined;
      },
      180_000,
      'the page shows the rebuild finished',
    );
    handler.slowMs = 0;
    assert.ok(seen.size >= 2, `the progress bar moved: ${[...seen].join(', ')}`);
    assert.match(await card(page, 'item-counts').locator('[data-field=rebuilt]').innerText(), /Rebuilt into generation 2/);
    const status = (await client.system.projections.query()).find((p) => p.name === 'item-counts')!;
    assert.equal(status.generation, 2);
    assert.equal((await stack.readModels.get(itemCounts, sick))?.lines, 3, 'the rebuilt generation has the re-driven events');

    await screenshot(page, 'console.png');
    assert.deepEqual(problems, []);
    await page.close();
  });
});
