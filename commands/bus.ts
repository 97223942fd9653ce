import { randomUUID } from 'node:crypto';
import {
  WithStartWorkflowOperation,
  WorkflowClient,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  WorkflowUpdateStage,
  isGrpcServiceError,
  type Client,
  type WorkflowClientInterceptor,
} from '@temporalio/client';
import {
  ApplicationFailure,
  TypedSearchAttributes,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type WorkflowIdReusePolicy,
} from '@temporalio/common';
import type { CommandEnvelope, CommandOutcome, OutcomeRecord } from '../core/envelopes';
import { engineCodes, type Rejection } from '../core/errors';
import { workflowIdOf } from '../core/ids';
import { aggregateLimits, jsonBytes } from '../core/limits';
import type { Logger } from '../infra/logger';
import { answerOf, rejectedOutcome } from '../core/outcomes';
import { AggregateId, AggregateType, AggregateVersion, aggregateWorkflowType, submitUpdate, type AggregateEnd, type AggregateWorkflow } from '../workflows/definitions';
import { sleep } from '../infra/deadline';

/** `processed`: answer once decided; `accepted`: once durably in the aggregate's mailbox. */
export type Delivery = 'processed' | 'accepted';

export type Submitted = CommandOutcome | { status: 'queued'; commandId: string; aggregateId: string };

export interface CommandBusOptions {
  taskQueue: string;
  /** How long a submission may take; after it the caller hears COMMAND_TIMEOUT (retry with the same id). */
  timeoutMs?: number;
  /** Commands of one aggregate waiting in this process for their turn. */
  maxQueuedPerAggregate?: number;
  /** Commands waiting in this process for all aggregates together. */
  maxQueued?: number;
  /** Each command's end at debug level (with its correlationId), unexpected failures at warn. */
  log?: Logger;
}

export const busDefaults = { timeoutMs: 10_000, maxQueuedPerAggregate: 1_000, maxQueued: 20_000 } as const;

/** Closed aggregates whose end an API process keeps, so later commands skip Temporal. */
const closedKept = 100;

interface Waiting {
  envelope: CommandEnvelope;
  delivery: Delivery;
  deadline: number;
  bytes: number;
  settled: boolean;
  settle(outcome: Submitted): void;
  fail(error: unknown): void;
}

interface ClosedEnd {
  version: number;
  code: string;
  outcomes: Map<string, OutcomeRecord>;
}

/**
 * Delivers command envelopes to aggregate workflows, for the API, processes and the CLI.
 * Commands for one aggregate that arrive while an update is in flight are coalesced into the
 * next update, so a hot aggregate sees one update per round trip (far below Temporal's 10
 * in-flight updates) and decides the whole batch in one workflow task. Every buffer is bounded
 * and every wait has a deadline: a refusal is a rejected outcome of kind UNAVAILABLE, which
 * names the command and is safe to retry.
 */
export function createCommandBus(client: Client, options: CommandBusOptions) {
  const { taskQueue, log } = options;
  const timeoutMs = options.timeoutMs ?? busDefaults.timeoutMs;
  const maxQueuedPerAggregate = options.maxQueuedPerAggregate ?? busDefaults.maxQueuedPerAggregate;
  const maxQueued = options.maxQueued ?? busDefaults.maxQueued;
  const queues = new Map<string, Waiting[]>();
  let queued = 0;
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
      args: [{ aggregateType: envelope.aggregateType, aggregateId: envelope.aggregateId, recordDecisions: true }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      // A closed aggregate is never started again empty under the same id; only one that ended
      // without ever accepting a command is (after it was looked at: see `reopen`).
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
      // Other API processes hold the workflow's 10 in-flight updates, or the aggregate is handing
      // over to a new run: try again in a moment, within the deadline.
      if ((isGrpcCode(error, 8) || refusedAs(error, engineCodes.AGGREGATE_HANDING_OVER)) && Date.now() + 100 < deadline) {
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
    closed.set(workflowId, { version: end.version, code: end.code, outcomes: new Map(end.recentOutcomes.map((o) => [o.commandId, o])) });
    if (closed.size > closedKept) closed.delete(closed.keys().next().value!);
  }

  async function drain(workflowId: string, queue: Waiting[]) {
    while (queue.length > 0) {
      const now = Date.now();
      const expired = queue.filter((w) => w.deadline <= now);
      if (expired.length > 0) {
        queue.splice(0, queue.length, ...queue.filter((w) => w.deadline > now));
        for (const w of expired) {
          w.settle(refusal(w.envelope, engineCodes.COMMAND_TIMEOUT, `waited ${timeoutMs} ms behind other commands for this aggregate and was not sent; retry`));
        }
        continue;
      }
      await deliver(workflowId, takeBatch(queue));
    }
    queues.delete(workflowId);
  }

  /**
   * Resolves with the command's outcome once decided (`processed`) or once in the mailbox
   * (`accepted`: status `queued`). Rejects only on an unexpected error.
   */
  function submit(envelope: CommandEnvelope, delivery?: 'processed'): Promise<CommandOutcome>;
  function submit(envelope: CommandEnvelope, delivery: Delivery): Promise<Submitted>;
  function submit(envelope: CommandEnvelope, delivery: Delivery = 'processed'): Promise<Submitted> {
    const workflowId = workflowIdOf(envelope.aggregateType, envelope.aggregateId);
    const end = closed.get(workflowId);
    if (end) return Promise.resolve(closedAnswer(end, envelope));
    const queue = queues.get(workflowId);
    if ((queue?.length ?? 0) >= maxQueuedPerAggregate || queued >= maxQueued) {
      return Promise.resolve(
        refusal(envelope, engineCodes.COMMAND_QUEUE_FULL, `this API process already holds ${queued} commands (${queue?.length ?? 0} for this aggregate); retry shortly`),
      );
    }
    return new Promise<Submitted>((resolve, reject) => {
      const waiting: Waiting = {
        envelope,
        delivery,
        deadline: Date.now() + timeoutMs,
        bytes: jsonBytes(envelope),
        settled: false,
        settle(outcome) {
          if (waiting.settled) return;
          waiting.settled = true;
          queued -= 1;
          if (log?.isLevelEnabled('debug')) log.debug({ ...commandFields(envelope), status: outcome.status, version: 'version' in outcome ? outcome.version : null }, 'command');
          resolve(outcome);
        },
        fail(error) {
          if (waiting.settled) return;
          waiting.settled = true;
          queued -= 1;
          log?.warn({ ...commandFields(envelope), err: error }, 'command not delivered');
          reject(error);
        },
      };
      queued += 1;
      if (queue) return void queue.push(waiting);
      const fresh = [waiting];
      queues.set(workflowId, fresh);
      drain(workflowId, fresh).catch((error: unknown) => {
        // Not expected (deliver settles every command): fail what is left rather than leave it waiting.
        queues.delete(workflowId);
        for (const w of fresh.splice(0)) w.fail(error);
      });
    });
  }

  return {
    submit,

    /** Commands this process holds, waiting or in flight. */
    get queued() {
      return queued;
    },
  };
}

export type CommandBus = ReturnType<typeof createCommandBus>;

const commandFields = (envelope: CommandEnvelope) => ({
  aggregate: `${envelope.aggregateType}:${envelope.aggregateId}`,
  command: envelope.type,
  commandId: envelope.commandId,
  correlationId: envelope.metadata.correlationId,
});

/** The head of the queue that fits one update: at most `commandsPerUpdate` commands and `updateBytes`. */
function takeBatch(queue: Waiting[]): Waiting[] {
  let bytes = 0;
  let count = 0;
  while (count < queue.length && count < aggregateLimits.commandsPerUpdate) {
    bytes += queue[count]!.bytes;
    if (count > 0 && bytes > aggregateLimits.updateBytes) break;
    count += 1;
  }
  return queue.splice(0, count);
}

function closedAnswer(end: ClosedEnd, envelope: CommandEnvelope): CommandOutcome {
  const record = end.outcomes.get(envelope.commandId);
  if (record) return answerOf(record, envelope.aggregateId);
  return rejectedOutcome(envelope, end.version, {
    kind: 'AGGREGATE_CLOSED',
    code: end.code,
    message: `${envelope.aggregateType} ${envelope.aggregateId} is closed and takes no more commands`,
  });
}

const refusal = (envelope: CommandEnvelope, code: string, message: string): CommandOutcome =>
  rejectedOutcome(envelope, 0, { kind: 'UNAVAILABLE', code, message: `command ${envelope.commandId}: ${message}` });

const isClosedWorkflow = (error: unknown): boolean =>
  error instanceof WorkflowExecutionAlreadyStartedError ||
  error instanceof WorkflowNotFoundError ||
  (error instanceof Error && error.cause !== undefined && error.cause !== error && isClosedWorkflow(error.cause));

/** Whether the workflow's validator refused the update with this failure type. */
const refusedAs = (error: unknown, type: string) =>
  error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure && error.cause.type === type;

/** The refusal an error amounts to, or null for an unexpected one. */
function rejectionOf(error: unknown, deadline: number): Omit<Rejection, 'details'> | null {
  if (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure) {
    const { type, message } = error.cause;
    if (type === engineCodes.AGGREGATE_BACKLOG_FULL || type === engineCodes.AGGREGATE_MAILBOX_FULL || type === engineCodes.AGGREGATE_HANDING_OVER) {
      return { kind: 'UNAVAILABLE', code: type, message };
    }
    if (type === engineCodes.COMMAND_TOO_LARGE || type === 'INVALID_UPDATE') return { kind: 'INVALID_COMMAND', code: engineCodes.COMMAND_TOO_LARGE, message };
  }
  if (isGrpcCode(error, 14)) return { kind: 'UNAVAILABLE', code: engineCodes.TEMPORAL_UNAVAILABLE, message: 'Temporal is unavailable; retry with the same commandId' };
  if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isGrpcCode(error, 4) || Date.now() >= deadline) {
    return {
      kind: 'UNAVAILABLE',
      code: engineCodes.COMMAND_TIMEOUT,
      message: 'it was not decided before the deadline (is a worker running?); it may still be applied, so retry with the same commandId',
    };
  }
  return null;
}

/** A gRPC status anywhere in the cause chain (4 DEADLINE_EXCEEDED, 8 RESOURCE_EXHAUSTED, 14 UNAVAILABLE). */
function isGrpcCode(error: unknown, code: number): boolean {
  if (isGrpcServiceError(error) && error.code === code) return true;
  return error instanceof Error && error.cause !== undefined && error.cause !== error && isGrpcCode(error.cause, code);
}
