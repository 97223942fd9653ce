import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createCommandBus } from '../../commands/bus';
import { buildCommand } from '../../commands/envelope';
import type { CommandOutcome } from '../../core/envelopes';
import type { AggregateEnd } from '../../workflows/definitions';
import { address } from '../support/shop';
import { eventually, startTestStack, uniqueId, type TestStack } from '../support/stack';

/**
 * An order is decided against its customer's state at that moment (read from the customer's
 * workflow, not a read model). A deactivation racing order creations resolves by which is
 * decided first: an order created before the deactivation saw an active customer (and names the
 * customer version it saw); any order decided after it is refused. Orders in flight while the
 * deactivation is must go both ways over the rounds, or the race was never run.
 */
describe('a rule across aggregates, decided on current state', { timeout: 480_000 }, () => {
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

    /** Each lane sends orders one after another; the deactivation goes out in the middle of that stream. */
    const lanes = 4;
    const [minRounds, maxRounds] = [3, 15];
    const tally = { accepted: 0, refused: 0, racingAccepted: 0, racingRefused: 0, rounds: 0 };
    while (tally.rounds < minRounds || (tally.rounds < maxRounds && (tally.racingAccepted === 0 || tally.racingRefused === 0))) {
      const round = tally.rounds++;
      const customerId = uniqueId('racer');
      assert.equal((await send('customer', customerId, 'register', { name: 'Grace', email: 'grace@example.com' })).status, 'accepted');
      // A logical clock orders what the test saw: which orders overlapped the deactivation's round trip.
      let tick = 0;
      const deactivation: { sentAt?: number; answeredAt?: number; outcome?: CommandOutcome } = {};
      const orders: { orderId: string; sentAt: number; answeredAt: number; outcome: CommandOutcome }[] = [];
      const lane = async (l: number) => {
        // Until the lane has sent one order after the deactivation was answered (bounded, should that never come).
        for (let i = 0; i < 200; i++) {
          const orderId = uniqueId(`r${round}l${l}o${i}`);
          const sentAt = ++tick;
          const outcome = await create(orderId, customerId);
          orders.push({ orderId, sentAt, answeredAt: ++tick, outcome });
          if (deactivation.answeredAt !== undefined && sentAt > deactivation.answeredAt) return;
        }
      };
      const deactivate = async () => {
        // In the middle of the stream: once as many orders as lanes have been answered, with the lanes' next ones in flight.
        await eventually(async () => (orders.length >= lanes ? true : undefined), 120_000, 'the stream of orders flowing');
        deactivation.sentAt = ++tick;
        deactivation.outcome = await send('customer', customerId, 'deactivate', {});
        deactivation.answeredAt = ++tick;
      };
      await Promise.all([deactivate(), ...Array.from({ length: lanes }, (_, l) => lane(l))]);
      const { sentAt: deactivationSent, answeredAt: deactivationAnswered, outcome: deactivated } = deactivation as Required<typeof deactivation>;
      assert.equal(deactivated.status, 'accepted');
      assert.equal(deactivated.version, 2);

      for (const order of orders) {
        const { outcome } = order;
        if (outcome.status === 'accepted') {
          assert.equal(createdAgainst(outcome), 1, `${order.orderId}: created against the customer before its deactivation (version 1)`);
          tally.accepted += 1;
        } else {
          assert.equal(outcome.rejection.code, 'CUSTOMER_INACTIVE', order.orderId);
          tally.refused += 1;
        }
        // Answered before the deactivation was sent: the customer was active. Sent after it was answered: inactive.
        if (order.answeredAt < deactivationSent) assert.equal(outcome.status, 'accepted', `${order.orderId} was decided before the deactivation was sent`);
        else if (order.sentAt > deactivationAnswered) assert.equal(outcome.status, 'rejected', `${order.orderId} was sent after the deactivation was answered`);
        else if (outcome.status === 'accepted') tally.racingAccepted += 1;
        else tally.racingRefused += 1;
      }
      // Reactivated, orders are taken again, against the new state.
      await send('customer', customerId, 'reactivate', {});
      assert.equal(createdAgainst(await create(uniqueId('again'), customerId)), 3);
    }
    t.diagnostic(
      `${tally.rounds} round(s), ${tally.accepted + tally.refused} orders: ${tally.accepted} accepted, ${tally.refused} refused CUSTOMER_INACTIVE; ` +
        `of those in flight with the deactivation, ${tally.racingAccepted} decided before it and ${tally.racingRefused} after it`,
    );
    assert.ok(tally.racingAccepted > 0, 'some orders in flight with the deactivation were accepted against the active customer');
    assert.ok(tally.racingRefused > 0, 'some orders in flight with the deactivation were refused CUSTOMER_INACTIVE');
  });

  it('refuses an order for a customer that never registered, leaving no running workflow; the id can be used afresh', async () => {
    const bus = createCommandBus(stack.temporal, { taskQueue: stack.config.TEMPORAL_TASK_QUEUE });
    const orderId = uniqueId('orphan');
    const workflowId = `order:${orderId}`;
    const outcome = await bus.submit(buildCommand({ aggregateType: 'order', aggregateId: orderId, type: 'create', payload: { customerId: uniqueId('nobody'), items: [{ itemId: 'x', quantity: 1, price: 1 }], shippingAddress: address } }));
    assert.equal(outcome.status === 'rejected' && outcome.rejection.code, 'CUSTOMER_NOT_FOUND');

    // What Temporal holds for that id: one run, ended empty (not the lagging visibility index).
    const refused = stack.temporal.workflow.getHandle(workflowId);
    const end = (await refused.result()) as AggregateEnd;
    assert.deepEqual(end, { end: 'empty' });
    const emptyRun = await refused.describe();
    assert.equal(emptyRun.status.name, 'COMPLETED');

    // A later command for the id starts a new run (not the empty one reopened) and is decided on its own.
    const customerId = uniqueId('known');
    assert.equal((await bus.submit(buildCommand({ aggregateType: 'customer', aggregateId: customerId, type: 'register', payload: { name: 'Ada', email: 'ada@example.com' } }))).status, 'accepted');
    const created = await bus.submit(buildCommand({ aggregateType: 'order', aggregateId: orderId, type: 'create', payload: { customerId, items: [{ itemId: 'x', quantity: 1, price: 1 }], shippingAddress: address } }));
    assert.equal(created.status, 'accepted');
    const latest = await stack.temporal.workflow.getHandle(workflowId).describe();
    assert.equal(latest.status.name, 'RUNNING');
    assert.notEqual(latest.runId, emptyRun.runId, 'a new run');
    assert.equal(latest.raw.workflowExecutionInfo?.firstRunId, latest.runId, 'started afresh, not continued from the empty run');
    assert.equal((await stack.temporal.workflow.getHandle(workflowId, emptyRun.runId).describe()).status.name, 'COMPLETED', 'the empty run stays closed');
    assert.equal(created.status === 'accepted' && created.version, 1);
  });
});
