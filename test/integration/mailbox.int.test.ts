import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createCommandBus } from '../../api/commands';
import type { CommandEnvelope } from '../../core/envelopes';
import { dedupeWindow, versionQuery } from '../../workflows/definitions';
import { startTestStack, uniqueId, type TestStack } from '../support/stack';

describe('the aggregate mailbox', { timeout: 180_000 }, () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack({ worker: false, projector: false, api: false });
  });
  after(async () => {
    await stack?.stop();
  });

  it(`answers an update decided in one pass with more than ${dedupeWindow} other commands`, async () => {
    const cartId = uniqueId('flood');
    const bus = createCommandBus(stack.temporal, stack.config.TEMPORAL_TASK_QUEUE);
    const envelope = (id: string, itemId: string): CommandEnvelope => ({
      commandId: id, aggregateType: 'cart', aggregateId: cartId, type: 'addItem',
      payload: { itemId, quantity: 1, price: 0.01 }, metadata: { correlationId: cartId, issuedAt: new Date().toISOString() },
    });
    // With no worker running, everything waits in the workflow's history: an update and more
    // signals than the dedupe window holds. The worker then decides them in one pass.
    await bus.send(envelope(`${cartId}-start`, 'start'));
    const answer = bus.submit(envelope(`${cartId}-update`, 'by-update'));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const flood = dedupeWindow + 100;
    for (let i = 0; i < flood; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, flood - i) }, (_, k) => bus.send(envelope(`${cartId}-s${i + k}`, `s${i + k}`))));
    }
    await stack.startWorker();

    const outcome = await answer;
    assert.equal(outcome.status, 'accepted');
    assert.deepEqual(outcome.events.map((e) => [e.type, e.payload.itemId]), [['ItemAddedToCart', 'by-update']]);
    const handle = stack.temporal.workflow.getHandle(`cart:${cartId}`);
    assert.equal(await handle.query(versionQuery), flood + 2, 'every command decided once');
    const state = (await handle.query('state')) as { items: { itemId: string }[] };
    assert.equal(state.items.findIndex((item) => item.itemId === 'by-update') + 1, outcome.version, 'the answer matches the state');
  });
});
