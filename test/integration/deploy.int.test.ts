import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAggregateWorker, type AggregateWorker } from '../../bin/worker';
import { createCommandBus } from '../../commands/bus';
import { buildCommand } from '../../commands/envelope';
import type { CommandOutcome, EventEnvelope } from '../../core/envelopes';
import type { CartState } from '../../examples/shop/domain/cart';
import { stateQuery, versionQuery } from '../../workflows/definitions';
import { eventsInLog, versionsUpTo } from '../support/event-log';
import { startTestStack, uniqueId, type TestStack } from '../support/stack';
import { readStream } from '../support/stream';
import { loadTestApp } from '../support/apps';

/** What release 1 decided for each cart's five commands, written out rather than folded by the code under test. */
const decidedBeforeDeploy = [
  { version: 1, type: 'ItemAddedToCart', payload: { itemId: 'apple', quantity: 10, unitPriceCents: 150 } },
  { version: 2, type: 'ItemAddedToCart', payload: { itemId: 'b', quantity: 1, unitPriceCents: 200 } },
  { version: 3, type: 'ItemAddedToCart', payload: { itemId: 'c', quantity: 1, unitPriceCents: 200 } },
  { version: 4, type: 'ItemAddedToCart', payload: { itemId: 'd', quantity: 1, unitPriceCents: 200 } },
  { version: 5, type: 'ItemQuantityChanged', payload: { itemId: 'b', quantity: 7 } },
];
/** The cart a user sees after them: 10 apples at 1.50, 7 b, 1 c and 1 d at 2.00 (33.00 in all). */
const cartBeforeDeploy: CartState = {
  status: 'open',
  items: [
    { itemId: 'apple', quantity: 10, unitPriceCents: 150 },
    { itemId: 'b', quantity: 7, unitPriceCents: 200 },
    { itemId: 'c', quantity: 1, unitPriceCents: 200 },
    { itemId: 'd', quantity: 1, unitPriceCents: 200 },
  ],
};
/** After release 2 removed c: 31.00. */
const cartAfterRemoval: CartState = { status: 'open', items: cartBeforeDeploy.items.filter((line) => line.itemId !== 'c') };
/** The test's own sum of a cart's lines, in cents. */
const totalOf = (state: CartState) => state.items.reduce((sum, line) => sum + line.quantity * line.unitPriceCents, 0);

describe('a deploy that changes decide under running aggregates', { timeout: 240_000 }, () => {
  let stack: TestStack;
  let stricter: AggregateWorker | undefined;
  before(async () => {
    stack = await startTestStack({ api: false, projector: false });
  });
  after(async () => {
    await stricter?.shutdown();
    await stack?.stop();
  });

  it('continues every aggregate from exactly the events it decided: the same state, no version reused, no task failed', async () => {
    const bus = createCommandBus(stack.temporal, { taskQueue: stack.config.TEMPORAL_TASK_QUEUE, timeoutMs: 60_000 });
    const send = (cartId: string, type: string, payload: Record<string, unknown>) =>
      bus.submit(buildCommand({ aggregateType: 'cart', aggregateId: cartId, type, payload }));
    const accepted = (outcome: CommandOutcome) => {
      assert.equal(outcome.status, 'accepted', JSON.stringify(outcome));
      return outcome;
    };

    // Release 1: up to 99 of an item and 100 lines. Each cart takes what release 2 will refuse.
    const carts = Array.from({ length: 4 }, () => uniqueId('deploy'));
    for (const cartId of carts) {
      accepted(await send(cartId, 'addItem', { itemId: 'apple', quantity: 10, price: 1.5 }));
      for (const itemId of ['b', 'c', 'd']) accepted(await send(cartId, 'addItem', { itemId, quantity: 1, price: 2 }));
      accepted(await send(cartId, 'changeQuantity', { itemId: 'b', quantity: 7 }));
    }
    const decided = new Map<string, EventEnvelope[]>();
    for (const cartId of carts) {
      const handle = stack.temporal.workflow.getHandle(`cart:${cartId}`);
      const events = (await handle.query('recentEvents')) as EventEnvelope[];
      assert.deepEqual(events.map(({ version, type, payload }) => ({ version, type, payload })), decidedBeforeDeploy);
      decided.set(cartId, events);
      assert.deepEqual(await handle.query(stateQuery), cartBeforeDeploy, 'release 1 serves the cart the commands made');
    }

    // Release 2 replaces the worker: its decide refuses more than 5 of an item and a 4th line.
    await stack.worker!.shutdown();
    stack.worker = undefined;
    stricter = await createAggregateWorker(await loadTestApp('stricter'), stack.config);
    void stricter.run();

    for (const cartId of carts) {
      const handle = stack.temporal.workflow.getHandle(`cart:${cartId}`);
      // The new worker has none of them cached: this replays each history with the new code.
      const state = (await handle.query(stateQuery)) as CartState;
      assert.deepEqual(state, cartBeforeDeploy, 'the same cart after the deploy: every line and quantity decided before it');
      assert.equal(totalOf(state), 3300);
      assert.equal(await handle.query(versionQuery), 5);

      // New commands are decided by the new rules, on top of the old decisions.
      const more = await send(cartId, 'addItem', { itemId: 'apple', quantity: 1, price: 1.5 });
      assert.equal(more.status === 'rejected' && more.rejection.code, 'QUANTITY_LIMIT');
      const fourth = await send(cartId, 'addItem', { itemId: 'e', quantity: 1, price: 1 });
      assert.equal(fourth.status === 'rejected' && fourth.rejection.code, 'CART_FULL');
      const removed = accepted(await send(cartId, 'removeItem', { itemId: 'c' }));
      assert.equal(removed.version, 6, 'the next version, never one already published');
      assert.deepEqual(removed.events.map(({ type, payload }) => ({ type, payload })), [{ type: 'ItemRemovedFromCart', payload: { itemId: 'c' } }]);
      const withoutC = (await handle.query(stateQuery)) as CartState;
      assert.deepEqual(withoutC, cartAfterRemoval, 'c removed, the rest as decided before the deploy');
      assert.equal(totalOf(withoutC), 3100);

      const history = await handle.fetchHistory();
      assert.equal(history.events?.filter((e) => e.workflowTaskFailedEventAttributes).length, 0, 'no workflow task failed');
    }

    // The log holds each cart's versions 1..6, first sightings in version order, with the events
    // decided before the deploy. A retried publish may log an event again (at-least-once): each
    // copy must be that same event (same eventId and envelope); copies are counted, not hidden.
    const messages = await readStream(stack.rabbit, stack.config.EVENTS_STREAM, (ms) => new Set(ms.map((m) => m.messageId)).size >= carts.length * 6, 30_000);
    let duplicates = 0;
    for (const cartId of carts) {
      const logged = eventsInLog(messages, 'cart', cartId);
      assert.deepEqual(logged.events.map((e) => e.version), versionsUpTo(6));
      assert.deepEqual(logged.events.slice(0, 5), decided.get(cartId));
      assert.deepEqual([logged.events[5]!.type, logged.events[5]!.payload], ['ItemRemovedFromCart', { itemId: 'c' }]);
      duplicates += logged.duplicates;
    }
    console.log(`deploy: ${carts.length} carts, ${messages.length} messages in the log, ${duplicates} re-published copies`);
  });
});
