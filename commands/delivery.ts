/**
 * Delivers a batch of one aggregate's commands to its workflow with update-with-start (the first
 * command creates the aggregate) and settles every command in it, whatever happens: a busy
 * workflow is tried again within the deadline, a closed one answers from how it ended, and a
 * failure becomes a typed rejection (commands/failures.ts) or, if unexpected, the caller's error.
 */
import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation, WorkflowClient, WorkflowUpdateStage, type Client, type WorkflowClientInterceptor } from '@temporalio/client';
import { TypedSearchAttributes, type WorkflowIdReusePolicy } from '@temporalio/common';
import type { CommandEnvelope, CommandOutcome } from '../core/envelopes';
import { engineCodes } from '../core/errors';
import { workflowIdOf } from '../core/ids';
import { answerOf, rejectedOutcome } from '../core/outcomes';
import { sleep } from '../infra/deadline';
import { AggregateId, AggregateType, AggregateVersion, aggregateWorkflowType, submitUpdate, type AggregateEnd, type AggregateWorkflow } from '../workflows/definitions';
import { OutcomeMemory } from '../workflows/outcome-memory';
import { busyForAMoment, isClosedWorkflow, rejectionOf } from './failures';
import type { Waiting } from './queue';

/** Closed aggregates whose end an API process keeps, so later commands skip Temporal. */
const closedKept = 100;

interface ClosedEnd {
  version: number;
  code: string;
  outcomes: OutcomeMemory;
}

/**
 * `commandIdRetentionMs`, when set, reaches every aggregate this process starts (its workflow
 * input; the workflow carries it across hand-overs).
 */
export function createDelivery(client: Client, taskQueue: string, commandIdRetentionMs?: number) {
  const closed = new Map<string, ClosedEnd>();

  // With waitForStage ACCEPTED the client hands back no outcome; a refusal by the workflow's
  // validator comes back at once as the update's outcome, which this tap keeps by update id.
  const refusedAtOnce = new Map<string, boolean>();
  const tap: WorkflowClientInterceptor = {
    async startUpdateWithStart(input, next) {
      const output = await next(input);
      if (output.updateOutcome) refusedAtOnce.set(output.updateId, Boolean(output.updateOutcome.failure));
      return output;
    },
  };
  // The client's own interceptors (tracing's) apply to the bus's calls too.
  const inherited = client.options.interceptors.workflow;
  const workflows = new WorkflowClient({ connection: client.connection, namespace: client.options.namespace, interceptors: [tap, ...(Array.isArray(inherited) ? inherited : [])] });

  const startOptions = (envelope: CommandEnvelope, reuse: WorkflowIdReusePolicy) =>
    new WithStartWorkflowOperation<AggregateWorkflow>(aggregateWorkflowType, {
      workflowId: workflowIdOf(envelope.aggregateType, envelope.aggregateId),
      taskQueue,
      args: [{ aggregateType: envelope.aggregateType, aggregateId: envelope.aggregateId, recordDecisions: true, decideInActivity: true, ...(commandIdRetentionMs ? { commandIdRetentionMs } : {}) }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      // A closed aggregate is never started again empty under the same id; only one that ended
      // without ever accepting a command is (after it was looked at: see `deliver`).
      workflowIdReusePolicy: reuse,
      // The workflow sets no search attributes of its own when it starts: these are them.
      typedSearchAttributes: new TypedSearchAttributes([
        { key: AggregateType, value: envelope.aggregateType },
        { key: AggregateId, value: envelope.aggregateId },
        { key: AggregateVersion, value: 0 },
      ]),
    });

  async function send(batch: Waiting[], reuse: WorkflowIdReusePolicy) {
    const envelopes = batch.map((w) => w.envelope);
    const startWorkflowOperation = startOptions(envelopes[0]!, reuse);
    if (batch.every((w) => w.delivery === 'processed')) {
      const outcomes = await workflows.executeUpdateWithStart(submitUpdate, { args: [envelopes], startWorkflowOperation });
      batch.forEach((w, i) => w.settle(outcomes[i]!));
      return;
    }
    const updateId = randomUUID();
    try {
      const handle = await workflows.startUpdateWithStart(submitUpdate, {
        args: [envelopes],
        updateId,
        waitForStage: WorkflowUpdateStage.ACCEPTED,
        startWorkflowOperation,
      });
      if (refusedAtOnce.get(updateId)) await handle.result(); // throws the validator's refusal
      for (const w of batch) if (w.delivery === 'accepted') w.settle({ status: 'queued', commandId: w.envelope.commandId, aggregateId: w.envelope.aggregateId });
      if (batch.some((w) => w.delivery === 'processed')) {
        const outcomes = await handle.result();
        batch.forEach((w, i) => w.settle(outcomes[i]!));
      }
    } finally {
      refusedAtOnce.delete(updateId);
    }
  }

  /** Sends one batch and settles every command in it, whatever happens. */
  async function deliver(workflowId: string, batch: Waiting[], reuse: WorkflowIdReusePolicy = 'REJECT_DUPLICATE', attempt = 0): Promise<void> {
    const deadline = Math.min(...batch.map((w) => w.deadline));
    try {
      await client.withDeadline(deadline, () => send(batch, reuse));
      return;
    } catch (error) {
      const open = batch.filter((w) => !w.settled);
      if (open.length === 0) return;
      if (busyForAMoment(error) && Date.now() + 100 < deadline) {
        await sleep(20 + Math.random() * 80);
        return deliver(workflowId, open, reuse, attempt);
      }
      if (isClosedWorkflow(error) && attempt < 2) {
        const end = await closedEnd(workflowId).catch(() => undefined);
        if (end === 'running') return deliver(workflowId, open, reuse, attempt + 1);
        if (end?.end === 'empty') return deliver(workflowId, open, 'ALLOW_DUPLICATE', attempt + 1);
        if (end?.end === 'terminal') {
          remember(workflowId, end);
          for (const w of open) w.settle(closedAnswer(closed.get(workflowId)!, w.envelope));
          return;
        }
        if (end === null) {
          for (const w of open) {
            w.settle(
              rejectedOutcome(w.envelope, 0, {
                kind: 'AGGREGATE_CLOSED',
                code: engineCodes.AGGREGATE_WORKFLOW_CLOSED,
                message: `${w.envelope.aggregateType} ${w.envelope.aggregateId} was closed in Temporal and is not restarted empty`,
              }),
            );
          }
          return;
        }
      }
      const rejection = rejectionOf(error, deadline);
      for (const w of open) {
        if (rejection) w.settle(rejectedOutcome(w.envelope, 0, { ...rejection, message: `command ${w.envelope.commandId}: ${rejection.message}` }));
        else w.fail(error);
      }
    }
  }

  /** How a closed workflow ended: its AggregateEnd, 'running' if it is open again, null if closed otherwise. */
  async function closedEnd(workflowId: string): Promise<AggregateEnd | 'running' | null> {
    const handle = workflows.getHandle(workflowId);
    return client.withDeadline(Date.now() + 5000, async () => {
      const { status } = await handle.describe();
      if (status.name === 'RUNNING') return 'running';
      if (status.name !== 'COMPLETED') return null;
      const end = (await handle.result()) as AggregateEnd | undefined;
      return end?.end === 'empty' || end?.end === 'terminal' ? end : null;
    });
  }

  function remember(workflowId: string, end: Extract<AggregateEnd, { end: 'terminal' }>) {
    closed.set(workflowId, { version: end.version, code: end.code, outcomes: OutcomeMemory.ended(end.recentOutcomes, end.acceptedIds) });
    if (closed.size > closedKept) closed.delete(closed.keys().next().value!);
  }

  return {
    deliver: (workflowId: string, batch: Waiting[]) => deliver(workflowId, batch),

    /** The answer for a command to an aggregate this process knows is closed, or undefined. */
    closedAnswer(workflowId: string, envelope: CommandEnvelope): CommandOutcome | undefined {
      const end = closed.get(workflowId);
      return end ? closedAnswer(end, envelope) : undefined;
    },
  };
}

function closedAnswer(end: ClosedEnd, envelope: CommandEnvelope): CommandOutcome {
  const record = end.outcomes.answer(envelope.commandId);
  if (record) return answerOf(record, envelope.aggregateId);
  return rejectedOutcome(envelope, end.version, {
    kind: 'AGGREGATE_CLOSED',
    code: end.code,
    message: `${envelope.aggregateType} ${envelope.aggregateId} is closed and takes no more commands`,
  });
}
