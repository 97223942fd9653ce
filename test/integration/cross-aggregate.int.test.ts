import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createCommandBus } from '../../commands/bus';
import { buildCommand } from '../../commands/envelope';
import type { CommandOutcome } from '../../core/envelopes';
import { address } from '../support/shop';
import { startTestStack, uniqueId, type TestStack } from '../support/stack';

/**
 * An order is decided against its customer's state at that moment (read from the customer's
 * workflow, not a read model). A deactivation racing order creations resolves by which is
 * decided first: an order created before the deactivation saw an active customer (and names the
 * customer version it saw); any order decided after it is refused.
 */
describe('a rule across aggregates, decided on current state', { timeout: 240_000 }, () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack({ api: false, projector: false });
  });
  after(async () => {
    await stack?.stop();
  });

  it('serialises a deactivation racing order creations: every order is decided on the customer as it was then', async (t) => {
    const bus = createCommandBus(stack.temporal, { taskQueue: stack.config.TEMPORAL_TASK_QUEUE, timeoutMs: 60_000 });
    const send = (aggregateType: string, aggregateId: string, type: string, payload: Record<string, unknown>) =>
      bus.submit(buildCommand({ aggregateType, aggregateId, type, payload }));
    const create = (orderId: string, customerId: string) =>
      send('order', orderId, 'create', { customerId, items: [{ itemId: 'book', quantity: 1, price: 9.5 }], shippingAddress: address });
    const createdAgainst = (outcome: CommandOutcome) =>
      outcome.status === 'accepted' ? (outcome.events[0]!.payload as { customerVersion: number }).customerVersion : null;

    let before = 0;
    let afterwards = 0;
    for (let round = 0; round < 6; round++) {
      const customerId = uniqueId('racer');
      assert.equal((await send('customer', customerId, 'register', { name: 'Grace', email: 'grace@example.com' })).status, 'accepted');
      const [deactivation, ...orders] = await Promise.all([
        send('customer', customerId, 'deactivate', {}),
        ...Array.from({ length: 4 }, (_, i) => create(uniqueId(`r${round}o${i}`), customerId)),
      ]);
      assert.equal(deactivation!.status, 'accepted');
      assert.equal(deactivation!.version, 2);
      for (const outcome of orders) {
        if (outcome.status === 'accepted') {
          assert.equal(createdAgainst(outcome), 1, 'created against the customer before its deactivation (version 1)');
          before += 1;
        } else {
          assert.equal(outcome.rejection.code, 'CUSTOMER_INACTIVE');
          afterwards += 1;
        }
      }
      // Once the deactivation was answered, every later order is refused.
      const late = await create(uniqueId('late'), customerId);
      assert.equal(late.status === 'rejected' && late.rejection.code, 'CUSTOMER_INACTIVE');
      // Reactivated, orders are taken again, against the new state.
      await send('customer', customerId, 'reactivate', {});
      assert.equal(createdAgainst(await create(uniqueId('again'), customerId)), 3);
    }
    assert.equal(before + afterwards, 24);
    t.diagnostic(`${before} racing orders were decided before their customer's deactivation, ${afterwards} after it`);
  });

  it('refuses an order for a customer that never registered, and leaves that order id unused', async () => {
    const bus = createCommandBus(stack.temporal, { taskQueue: stack.config.TEMPORAL_TASK_QUEUE });
    const orderId = uniqueId('orphan');
    const outcome = await bus.submit(buildCommand({ aggregateType: 'order', aggregateId: orderId, type: 'create', payload: { customerId: uniqueId('nobody'), items: [{ itemId: 'x', quantity: 1, price: 1 }], shippingAddress: address } }));
    assert.equal(outcome.status === 'rejected' && outcome.rejection.code, 'CUSTOMER_NOT_FOUND');
    const { count } = await stack.temporal.workflow.count(`WorkflowId = 'order:${orderId}' AND ExecutionStatus = 'Running'`);
    assert.equal(count, 0);
  });
});
