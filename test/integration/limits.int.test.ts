import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WithStartWorkflowOperation } from '@temporalio/client';
import { createAggregateWorker, type AggregateWorker } from '../../bin/worker';
import { createCommandBus } from '../../commands/bus';
import { buildCommand } from '../../commands/envelope';
import type { CommandOutcome } from '../../core/envelopes';
import { aggregateLimits as limits } from '../../core/limits';
import { aggregateWorkflowType, buffersQuery, submitUpdate, type AggregateWorkflow } from '../../workflows/definitions';
import { eventsInLog, versionsUpTo } from '../support/event-log';
import { ownRabbit, type OwnRabbit } from '../support/rabbit-server';
import { eventually, startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';
import { readStream } from '../support/stream';
import { loadTestApp } from '../support/apps';

/**
 * The worst case for what an aggregate carries: its state at the bound, a broker outage long
 * enough to fill its unpublished backlog, and hand-overs to new runs meanwhile.
 */
describe('an aggregate at its bounds (a broker node of the test’s own)', { timeout: 300_000 }, () => {
  let broker: OwnRabbit;
  let stack: LedgerStack;
  let worker: AggregateWorker | undefined;
  before(async () => {
    broker = await ownRabbit();
    stack = await startLedgerStack({ worker: false, api: false, projector: false, env: { RABBITMQ_URL: broker.url } });
    worker = await createAggregateWorker(await loadTestApp('bulky'), stack.config);
    void worker.run();
  });
  after(async () => {
    await worker?.shutdown();
    await stack?.stop();
    await broker?.destroy();
  });

  it('fills its state and backlog to their bounds, refuses more (retryable), hands over within Temporal’s limit, and loses nothing', async () => {
    const bulkyId = uniqueId('bulky');
    const workflowId = `bulky:${bulkyId}`;
    const bus = createCommandBus(stack.temporal, { taskQueue: stack.config.TEMPORAL_TASK_QUEUE, timeoutMs: 60_000 });
    const command = (type: 'grow' | 'shout', bytes: number) => buildCommand({ aggregateType: 'bulky', aggregateId: bulkyId, type, payload: { bytes } });
    // Started with a small history budget, so it hands over to a new run every few commands.
    const first = await stack.temporal.workflow.executeUpdateWithStart(submitUpdate, {
      args: [[command('grow', 15_000)]],
      startWorkflowOperation: new WithStartWorkflowOperation<AggregateWorkflow>(aggregateWorkflowType, {
        workflowId,
        taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
        args: [{ aggregateType: 'bulky', aggregateId: bulkyId, historyBudget: 40, recordDecisions: true, decideInActivity: true }],
        workflowIdConflictPolicy: 'USE_EXISTING',
      }),
    });
    const accepted: CommandOutcome[] = [...first];

    // The state grows until the engine refuses: STATE_TOO_LARGE, nothing changed.
    let outcome: CommandOutcome;
    do {
      outcome = await bus.submit(command('grow', 15_000));
      if (outcome.status === 'accepted') accepted.push(outcome);
    } while (outcome.status === 'accepted');
    assert.equal(outcome.status === 'rejected' && outcome.rejection.code, 'STATE_TOO_LARGE');
    const handle = stack.temporal.workflow.getHandle(workflowId);
    const levels = await handle.query(buffersQuery);
    assert.ok(levels.stateBytes > limits.stateBytes - 16_000 && levels.stateBytes <= limits.stateBytes, `state ${levels.stateBytes} bytes`);
    await eventually(async () => ((await handle.query(buffersQuery)).backlog.events === 0 ? true : undefined), 60_000, 'published');

    // The broker goes away: decided events pile up until the backlog's bound, then commands are refused.
    await broker.stop();
    let refusal: CommandOutcome | undefined;
    for (let i = 0; i < 200 && !refusal; i++) {
      const next = await bus.submit(command('shout', 15_000));
      if (next.status === 'accepted') accepted.push(next);
      else refusal = next;
    }
    assert.ok(refusal?.status === 'rejected');
    assert.equal(refusal.rejection.kind, 'UNAVAILABLE');
    assert.equal(refusal.rejection.code, 'AGGREGATE_BACKLOG_FULL');
    assert.match(refusal.rejection.message, new RegExp(refusal.commandId), 'the refusal names the command');
    const full = await handle.query(buffersQuery);
    assert.ok(full.backlog.bytes >= limits.backlogBytes && full.backlog.bytes < limits.backlogBytes + limits.decisionBytes, `backlog ${full.backlog.bytes} bytes`);

    // It went on handing over with everything it carries: the current run's input is near the worst case.
    const runs = async () => {
      let n = 0;
      for await (const _ of stack.temporal.workflow.list({ query: `WorkflowId = '${workflowId}' AND ExecutionStatus = 'ContinuedAsNew'` })) n += 1;
      return n;
    };
    const before = await runs();
    // More refused attempts while the broker is down change nothing.
    for (let i = 0; i < 5; i++) assert.equal((await bus.submit(command('shout', 10))).status, 'rejected');
    const description = await handle.describe();
    assert.equal(description.status.name, 'RUNNING', 'never terminated for an oversized hand-over');
    const history = await handle.fetchHistory();
    const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data?.length ?? 0;
    assert.ok(before >= 1, 'it handed over during the test');
    // Each run takes a few commands, so the latest began with its state near the bound and most of the backlog.
    assert.ok(input > 550_000 && input < limits.temporalPayloadBytes * 0.7, `the latest run was handed ${input} bytes`);

    // The broker returns: everything is published, in order; commands are taken again.
    await broker.start();
    await eventually(async () => ((await handle.query(buffersQuery)).backlog.events === 0 ? true : undefined), 120_000, 'backlog drained');
    const after = await bus.submit(command('shout', 10));
    assert.equal(after.status, 'accepted');
    accepted.push(after);
    const versions = accepted.map((o) => o.version);
    assert.deepEqual(versions, Array.from({ length: accepted.length }, (_, i) => i + 1), 'every accepted command has its version');
    // Publishes retried across the outage may have logged an event again (at-least-once): every
    // copy must be the same event (same eventId and envelope) and is counted; the first sightings
    // are versions 1..n in order, each carrying the command it was accepted for.
    const messages = await readStream(stack.rabbit, stack.config.EVENTS_STREAM, (ms) => new Set(ms.map((m) => m.messageId)).size >= accepted.length, 60_000);
    const logged = eventsInLog(messages, 'bulky', bulkyId);
    assert.deepEqual(logged.events.map((e) => e.version), versionsUpTo(accepted.length), 'the log has every version, first sightings in order');
    assert.deepEqual(logged.events.map((e) => e.commandId), accepted.map((o) => o.commandId), 'each version is the event of the command accepted with it');
    console.log(`limits: ${accepted.length} events decided, ${messages.length} messages logged, ${logged.duplicates} re-published copies; hand-overs ${await runs()}, latest input ${input} bytes, backlog at refusal ${full.backlog.bytes} bytes`);
  });
});
