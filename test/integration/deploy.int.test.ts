import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAggregateWorker, type AggregateWorker } from '../../bin/worker';
import { createCommandBus } from '../../commands/bus';
import { buildCommand } from '../../commands/envelope';
import { replay } from '../../core/decider';
import type { CommandOutcome, EventEnvelope } from '../../core/envelopes';
import { cart, type CartState } from '../../domain/cart';
import { stateQuery, versionQuery } from '../../workflows/definitions';
import { stricterAggregates } from '../support/domains/stricter-cart';
import { startTestStack, uniqueId, type TestStack } from '../support/stack';
import { readStream } from '../support/stream';

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
      const events = (await stack.temporal.workflow.getHandle(`cart:${cartId}`).query('recentEvents')) as EventEnvelope[];
      assert.equal(events.length, 5);
      decided.set(cartId, events);
    }

    // Release 2 replaces the worker: its decide refuses more than 5 of an item and a 4th line.
    await stack.worker!.shutdown();
    stack.worker = undefined;
    stricter = await createAggregateWorker(stack.config, {
      domain: { workflowsPath: require.resolve('../support/domains/stricter-workflows'), aggregates: stricterAggregates },
    });
    void stricter.run();

    for (const cartId of carts) {
      const handle = stack.temporal.workflow.getHandle(`cart:${cartId}`);
      // The new worker has none of them cached: this replays each history with the new code.
      const state = (await handle.query(stateQuery)) as CartState;
      assert.deepEqual(state, replay<CartState>(cart, decided.get(cartId)!).state, 'state is the fold of the events decided before the deploy');
      assert.equal(await handle.query(versionQuery), 5);

      // New commands are decided by the new rules, on top of the old decisions.
      const more = await send(cartId, 'addItem', { itemId: 'apple', quantity: 1, price: 1.5 });
      assert.equal(more.status === 'rejected' && more.rejection.code, 'QUANTITY_LIMIT');
      const fourth = await send(cartId, 'addItem', { itemId: 'e', quantity: 1, price: 1 });
      assert.equal(fourth.status === 'rejected' && fourth.rejection.code, 'CART_FULL');
      const removed = accepted(await send(cartId, 'removeItem', { itemId: 'c' }));
      assert.equal(removed.version, 6, 'the next version, never one already published');

      const history = await handle.fetchHistory();
      assert.equal(history.events?.filter((e) => e.workflowTaskFailedEventAttributes).length, 0, 'no workflow task failed');
    }

    // The log holds each cart's versions once, in order, with the payloads decided before the deploy.
    const messages = await readStream(stack.rabbit, stack.config.EVENTS_STREAM, (ms) => new Set(ms.map((m) => m.messageId)).size >= carts.length * 6, 30_000);
    for (const cartId of carts) {
      const logged = messages.map((m) => m.body as EventEnvelope).filter((e) => e.aggregateId === cartId);
      const first = logged.filter((e, i) => logged.findIndex((o) => o.version === e.version) === i);
      assert.deepEqual(first.map((e) => e.version), [1, 2, 3, 4, 5, 6]);
      assert.deepEqual(first.slice(0, 5), decided.get(cartId));
    }
  });
});
