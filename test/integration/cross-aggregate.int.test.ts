import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createCommandBus } from '../../commands/bus';
import { buildCommand } from '../../commands/envelope';
import type { CommandOutcome } from '../../core/envelopes';
import type { AggregateEnd } from '../../workflows/definitions';
import { eventually, startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';

/**
 * An account's `assign` is decided against its holder's state at that moment (read from the
 * holder's workflow, not a read model). A suspension racing assignments of new accounts resolves
 * by which is decided first: an account assigned before the suspension saw an active holder (and
 * names the holder version it saw); any decided after it is refused. Assignments in flight while
 * the suspension is must go both ways over the rounds, or the race was never run.
 */
describe('a rule across aggregates, decided on current state', { timeout: 480_000 }, () => {
  let stack: LedgerStack;
  before(async () => {
    stack = await startLedgerStack({ api: false, projector: false });
  });
  after(async () => {
    await stack?.stop();
  });

  it('serialises a suspension racing assignments: every assignment is decided on the holder as it was then', async (t) => {
    const bus = createCommandBus(stack.temporal, { taskQueue: stack.config.TEMPORAL_TASK_QUEUE, timeoutMs: 60_000 });
    const send = (aggregateType: string, aggregateId: string, type: string, payload: Record<string, unknown>) =>
      bus.submit(buildCommand({ aggregateType, aggregateId, type, payload }));
    const assign = (accountId: string, holderId: string) => send('account', accountId, 'assign', { holderId });
    const assignedAgainst = (outcome: CommandOutcome) =>
      outcome.status === 'accepted' ? (outcome.events[0]!.payload as { holderVersion: number }).holderVersion : null;

    /** Each lane assigns new accounts one after another; the suspension goes out in the middle of that stream. */
    const lanes = 4;
    const [minRounds, maxRounds] = [3, 15];
    const tally = { accepted: 0, refused: 0, racingAccepted: 0, racingRefused: 0, rounds: 0 };
    while (tally.rounds < minRounds || (tally.rounds < maxRounds && (tally.racingAccepted === 0 || tally.racingRefused === 0))) {
      const round = tally.rounds++;
      const holderId = uniqueId('racer');
      assert.equal((await send('holder', holderId, 'register', { name: 'Grace' })).status, 'accepted');
      // A logical clock orders what the test saw: which assignments overlapped the suspension's round trip.
      let tick = 0;
      const suspension: { sentAt?: number; answeredAt?: number; outcome?: CommandOutcome } = {};
      const assignments: { accountId: string; sentAt: number; answeredAt: number; outcome: CommandOutcome }[] = [];
      const lane = async (l: number) => {
        // Until the lane has sent one assignment after the suspension was answered (bounded, should that never come).
        for (let i = 0; i < 200; i++) {
          const accountId = uniqueId(`r${round}l${l}a${i}`);
          const sentAt = ++tick;
          const outcome = await assign(accountId, holderId);
          assignments.push({ accountId, sentAt, answeredAt: ++tick, outcome });
          if (suspension.answeredAt !== undefined && sentAt > suspension.answeredAt) return;
        }
      };
      const suspend = async () => {
        // In the middle of the stream: once as many assignments as lanes have been answered, with the lanes' next ones in flight.
        await eventually(async () => (assignments.length >= lanes ? true : undefined), 120_000, 'the stream of assignments flowing');
        suspension.sentAt = ++tick;
        suspension.outcome = await send('holder', holderId, 'suspend', {});
        suspension.answeredAt = ++tick;
      };
      await Promise.all([suspend(), ...Array.from({ length: lanes }, (_, l) => lane(l))]);
      const { sentAt: suspensionSent, answeredAt: suspensionAnswered, outcome: suspended } = suspension as Required<typeof suspension>;
      assert.equal(suspended.status, 'accepted');
      assert.equal(suspended.version, 2);

      for (const assignment of assignments) {
        const { outcome } = assignment;
        if (outcome.status === 'accepted') {
          assert.equal(assignedAgainst(outcome), 1, `${assignment.accountId}: assigned against the holder before its suspension (version 1)`);
          tally.accepted += 1;
        } else {
          assert.equal(outcome.rejection.code, 'HOLDER_SUSPENDED', assignment.accountId);
          tally.refused += 1;
        }
        // Answered before the suspension was sent: the holder was active. Sent after it was answered: suspended.
        if (assignment.answeredAt < suspensionSent) assert.equal(outcome.status, 'accepted', `${assignment.accountId} was decided before the suspension was sent`);
        else if (assignment.sentAt > suspensionAnswered) assert.equal(outcome.status, 'rejected', `${assignment.accountId} was sent after the suspension was answered`);
        else if (outcome.status === 'accepted') tally.racingAccepted += 1;
        else tally.racingRefused += 1;
      }
      // Reinstated, assignments are taken again, against the new state.
      await send('holder', holderId, 'reinstate', {});
      assert.equal(assignedAgainst(await assign(uniqueId('again'), holderId)), 3);
    }
    t.diagnostic(
      `${tally.rounds} round(s), ${tally.accepted + tally.refused} assignments: ${tally.accepted} accepted, ${tally.refused} refused HOLDER_SUSPENDED; ` +
        `of those in flight with the suspension, ${tally.racingAccepted} decided before it and ${tally.racingRefused} after it`,
    );
    assert.ok(tally.racingAccepted > 0, 'some assignments in flight with the suspension were accepted against the active holder');
    assert.ok(tally.racingRefused > 0, 'some assignments in flight with the suspension were refused HOLDER_SUSPENDED');
  });

  it('refuses an assignment to a holder that never registered, leaving no running workflow; the id can be used afresh', async () => {
    const bus = createCommandBus(stack.temporal, { taskQueue: stack.config.TEMPORAL_TASK_QUEUE });
    const accountId = uniqueId('orphan');
    const workflowId = `account:${accountId}`;
    const outcome = await bus.submit(buildCommand({ aggregateType: 'account', aggregateId: accountId, type: 'assign', payload: { holderId: uniqueId('nobody') } }));
    assert.equal(outcome.status === 'rejected' && outcome.rejection.code, 'HOLDER_NOT_FOUND');

    // What Temporal holds for that id: one run, ended empty (not the lagging visibility index).
    const refused = stack.temporal.workflow.getHandle(workflowId);
    const end = (await refused.result()) as AggregateEnd;
    assert.deepEqual(end, { end: 'empty' });
    const emptyRun = await refused.describe();
    assert.equal(emptyRun.status.name, 'COMPLETED');

    // A later command for the id starts a new run (not the empty one reopened) and is decided on its own.
    const holderId = uniqueId('known');
    assert.equal((await bus.submit(buildCommand({ aggregateType: 'holder', aggregateId: holderId, type: 'register', payload: { name: 'Ada' } }))).status, 'accepted');
    const created = await bus.submit(buildCommand({ aggregateType: 'account', aggregateId: accountId, type: 'assign', payload: { holderId } }));
    assert.equal(created.status, 'accepted');
    const latest = await stack.temporal.workflow.getHandle(workflowId).describe();
    assert.equal(latest.status.name, 'RUNNING');
    assert.notEqual(latest.runId, emptyRun.runId, 'a new run');
    assert.equal(latest.raw.workflowExecutionInfo?.firstRunId, latest.runId, 'started afresh, not continued from the empty run');
    assert.equal((await stack.temporal.workflow.getHandle(workflowId, emptyRun.runId).describe()).status.name, 'COMPLETED', 'the empty run stays closed');
    assert.equal(created.status === 'accepted' && created.version, 1);
  });
});
