/**
 * The drill accounting can fail: run on one short load, it passes an honest stack, and reports
 * (naming the cart) a projector that drops one event, a projector that applies one event twice,
 * and an aggregate that applies one command twice. The sabotaged projectors are the real
 * projection runtime running the cart projection with one handler wrapped; the doubled command
 * comes from a test release of the cart (test/support/domains/twice-cart.ts) run by a real worker.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAggregateWorker, type AggregateWorker } from '../../bin/worker';
import type { AnyProjection } from '../../core/projection';
import { cartProjection } from '../../examples/shop/domain';
import { createLogger } from '../../infra/logger';
import { topologyOf } from '../../infra/rabbit';
import { startProjector } from '../../projectors/runtime';
import { createReadModels } from '../../projectors/store';
import { deleteKeys, startTestStack, uniqueId, type TestStack } from '../support/stack';
import { expectedCarts, runFor, startLoad, type Load } from './support/load';
import { account, assertAccounted, describeReport, type DrillReport } from './support/verify';
import { loadTestApp } from '../support/apps';

/** The cart projection with one event's handler sabotaged: skipped, or applied twice. */
function sabotaged(victimCommandId: string, how: 'drop' | 'twice'): AnyProjection {
  const base: AnyProjection = cartProjection;
  const handler = base.handlers['cart.ItemAddedToCart']!;
  return {
    ...base,
    handlers: {
      ...base.handlers,
      'cart.ItemAddedToCart': {
        ...handler,
        async apply(doc, event: { commandId: string }, read, id) {
          if (event.commandId !== victimCommandId) return handler.apply(doc, event, read, id);
          if (how === 'drop') return doc;
          return handler.apply(await handler.apply(doc, event, read, id), event, read, id);
        },
      },
    },
  };
}

describe('the drill accounting catches a lost or doubled event', { timeout: 600_000 }, () => {
  let stack: TestStack;
  let worker: AggregateWorker | undefined;
  let load: Load;
  const reports: DrillReport[] = [];
  const log = createLogger('test', 'warn');

  before(async () => {
    stack = await startTestStack({ worker: false });
    worker = await createAggregateWorker(await loadTestApp('twice'), stack.config);
    void worker.run();
    load = startLoad({ apiUrl: stack.api!.url, prefix: uniqueId('acct'), hotSenders: 4, manySenders: 4, cartsPerSender: 2 });
    await runFor(5000);
    await load.stop();
  });
  after(async () => {
    for (const report of reports) console.log([describeReport(report), ...report.problems.map((p) => `  ${p}`)].join('\n'));
    await worker?.shutdown();
    await stack?.stop();
  });

  /**
   * An acknowledged add whose item is still in its cart at the end (no later remove) and which is
   * not its cart's last command: losing or doubling its event must change the final read model.
   */
  function victim() {
    const expected = expectedCarts(load.tally);
    const byCart = new Map<string, string[]>();
    for (const [commandId, { cartId }] of load.tally.acknowledged) byCart.set(cartId, [...(byCart.get(cartId) ?? []), commandId]);
    for (const [cartId, ids] of byCart) {
      if (cartId === load.hotCart) continue;
      for (let i = ids.length - 2; i >= 0; i--) {
        const { command } = load.tally.commands.get(ids[i]!)!;
        if (command.type !== 'addItem') continue;
        const later = ids.slice(i + 1).map((id) => load.tally.commands.get(id)!.command);
        if (later.some((c) => c.type === 'removeItem' && c.itemId === command.itemId)) continue;
        const final = expected.get(cartId)!.get(command.itemId)!;
        return { commandId: ids[i]!, cartId, itemId: command.itemId, quantity: command.quantity, price: command.priceCents / 100, final: final.quantity };
      }
    }
    throw new Error('the load left no add that a lost event would show');
  }

  /** Runs the real projection runtime with `projection` into keys of its own, and accounts against them. */
  async function accountWith(name: string, projection: AnyProjection): Promise<DrillReport> {
    const prefix = `${stack.config.REDIS_PREFIX}:${name}`;
    const projector = startProjector({ redis: stack.redis, rabbit: stack.rabbit, topology: topologyOf(stack.config), prefix, log }, [projection], {
      batchSize: 200,
      tickMs: 500,
      leaseMs: 3000,
    });
    try {
      const report = await account({ ...stack, readModels: createReadModels(stack.redis, prefix) }, name, load, { readModelTimeoutMs: 60_000 });
      reports.push(report);
      return report;
    } finally {
      await projector.stop();
      await deleteKeys(stack.redis, `${prefix}:*`);
    }
  }

  it('passes the honest stack (the same load, the stack’s own projector)', async () => {
    const report = await account(stack, 'honest', load);
    reports.push(report);
    assert.ok(report.carts > 4, `carts accounted: ${report.carts}`);
    assertAccounted(report);
  });

  it('reports a projector that drops one item-added event, naming the cart and the item', async () => {
    const v = victim();
    const report = await accountWith('dropped', sabotaged(v.commandId, 'drop'));
    assert.deepEqual(report.offenders, [v.cartId], describeReport(report));
    const short = v.final - v.quantity;
    const line =
      short === 0
        ? `${v.cartId}: read model: item ${v.itemId} missing (expected quantity ${v.final})`
        : `${v.cartId}: read model: item ${v.itemId} quantity ${short} at ${v.price}, expected ${v.final} at ${v.price}`;
    assert.ok(report.problems.includes(line), `${line}\nnot in:\n${report.problems.join('\n')}`);
    assert.equal(report.cartsMatching, report.carts - 1);
    assert.equal(report.lost + report.doubled, 0, 'the log itself is whole');
    assert.throws(() => assertAccounted(report), assert.AssertionError, 'the drill fails');
  });

  it('reports a projector that applies one item-added event twice, naming the cart and the item', async () => {
    const v = victim();
    const report = await accountWith('doubled', sabotaged(v.commandId, 'twice'));
    assert.deepEqual(report.offenders, [v.cartId], describeReport(report));
    const line = `${v.cartId}: read model: item ${v.itemId} quantity ${v.final + v.quantity} at ${v.price}, expected ${v.final} at ${v.price}`;
    assert.ok(report.problems.includes(line), `${line}\nnot in:\n${report.problems.join('\n')}`);
    assert.equal(report.cartsMatching, report.carts - 1);
    assert.throws(() => assertAccounted(report), assert.AssertionError, 'the drill fails');
  });

  it('reports a command the aggregate applied twice (two versions, one commandId), naming the cart', async () => {
    // A load of its own (no senders): the test sends a few commands, one of them the `~twice` add.
    const own = startLoad({ apiUrl: stack.api!.url, prefix: uniqueId('twice'), hotSenders: 0, manySenders: 0, cartsPerSender: 0 });
    const cartId = `${own.hotCart}-x`;
    const sent = [
      { type: 'addItem', itemId: 'a', quantity: 2, priceCents: 150 },
      { type: 'addItem', itemId: 'b~twice', quantity: 3, priceCents: 275 },
      { type: 'addItem', itemId: 'a', quantity: 1, priceCents: 150 },
      { type: 'removeItem', itemId: 'a' },
      { type: 'addItem', itemId: 'c', quantity: 4, priceCents: 99 },
    ] as const;
    for (const [i, command] of sent.entries()) assert.equal(await own.send(cartId, `${cartId}-${i}`, command), 'acknowledged');
    const report = await account(stack, 'applied twice', own);
    reports.push(report);
    assert.deepEqual(report.offenders, [cartId], describeReport(report));
    assert.equal(report.doubled, 1);
    assert.equal(report.lost, 0);
    for (const line of [
      `${cartId}: version 6, but 5 command(s) acknowledged`,
      `${cartId}: command ${cartId}-1 was applied 2 times: versions 2, 3`,
      `${cartId}: read model: item b~twice quantity 6 at 2.75, expected 3 at 2.75`,
    ]) {
      assert.ok(report.problems.includes(line), `${line}\nnot in:\n${report.problems.join('\n')}`);
    }
    assert.throws(() => assertAccounted(report), assert.AssertionError, 'the drill fails');
  });
});
