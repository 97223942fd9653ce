/**
 * `ledgerflow/workflow`: what an app's process workflows (checkout, fulfilment, ...) use to
 * talk to aggregates, and the guard that finishes a process's work when the process itself
 * cannot. Workflow code only: deterministic, no Node APIs.
 */
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  condition,
  defineSignal,
  executeChild,
  isCancellation,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  sleep,
  startChild,
  TemporalFailure,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { createProcessActivities } from '../activities/process';
import type { CommandOutcome } from '../core/envelopes';
import { processCommandId } from '../core/ids';

export { LinkedAggregates, linkedAggregates, linkedAggregatesBytes, ProcessType } from './definitions';
export { processCommandId };
export type { CommandOutcome };

type ProcessActivities = ReturnType<typeof createProcessActivities>;

/** Retried until it gets an answer: a full backlog or a timeout delays a step and never skips it. */
const retryForever = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' } as const;

/** How long one command step may run (and so may still be running after its process ended). */
export const processStepTimeout = '30 seconds';

/**
 * Commands from this process to aggregates. Each command's id is derived from the process's
 * workflow id and the step (aggregate, id, command type, and `step` when one process sends the
 * same command to the same aggregate twice), so a retried step or a restarted worker applies it
 * once. A retryable refusal is retried; a domain refusal is returned as a `rejected` outcome.
 * A step in a cancelled scope is waited for (`WAIT_CANCELLATION_COMPLETED`): a command already
 * on its way lands before the process compensates, never after.
 */
export function processCommands(options: { correlationId: string; startToCloseTimeout?: string }) {
  const { sendCommand } = proxyActivities<ProcessActivities>({
    startToCloseTimeout: options.startToCloseTimeout ?? processStepTimeout,
    retry: retryForever,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  return {
    send(aggregateType: string, aggregateId: string, type: string, payload: Record<string, unknown>, step?: string): Promise<CommandOutcome> {
      const processId = workflowInfo().workflowId;
      return sendCommand({
        aggregateType,
        aggregateId,
        type,
        payload,
        commandId: processCommandId(processId, `${aggregateType}:${aggregateId}:${type}${step ? `:${step}` : ''}`),
        correlationId: options.correlationId,
        causationId: processId,
      });
    },
  };
}

/** The guard's workflow type (the worker registers it beside the app's processes). */
export const processGuardType = 'processGuard';

/** Sent by a guarded process to its guard once it has finished its work, whichever way. */
export const processSettledSignal = defineSignal('processSettled');

/** A process failed in a way it did not handle (a bug): its guard runs the recovery. Not retryable. */
export const processFailedType = 'PROCESS_FAILED';

export interface ProcessGuardInput {
  /** The guarded process's workflow id. */
  processId: string;
  /** The workflow type that finishes the process's work (registered in the app's `processes`). */
  recovery: string;
  /** What the recovery is started with: the process's own input. */
  input: unknown;
  /** How long after the process ended its steps may still be landing: the recovery starts after it. */
  grace: string;
}

export type ProcessGuardResult = { end: 'settled' } | { end: 'recovered'; recoveryId: string };

/**
 * The guard: a workflow of its own a guarded process starts first, as a child its close asks to
 * cancel (`ParentClosePolicy.REQUEST_CANCEL`). A process that finished says so (`processSettled`)
 * and the guard ends. A process that ended any other way — terminated, timed out, failed, or
 * cancelled before it compensated — ran none of its own code at the end, so the guard starts the
 * process's recovery (`<processId>:recovery`, with the process's input) once the process's last
 * steps can no longer be landing, and waits for it. Terminating a workflow runs none of its code;
 * this one is outside it, so its close still reaches someone who finishes the work.
 */
export async function processGuard(guard: ProcessGuardInput): Promise<ProcessGuardResult> {
  let settled = false;
  setHandler(processSettledSignal, () => void (settled = true));
  try {
    await condition(() => settled);
    return { end: 'settled' };
  } catch (error) {
    if (!isCancellation(error)) throw error;
  }
  if (settled) return { end: 'settled' };
  const recoveryId = `${guard.processId}:recovery`;
  await CancellationScope.nonCancellable(async () => {
    await sleep(guard.grace);
    try {
      await executeChild(guard.recovery, { workflowId: recoveryId, args: [guard.input], parentClosePolicy: ParentClosePolicy.ABANDON, workflowIdReusePolicy: 'REJECT_DUPLICATE' });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
  });
  return { end: 'recovered', recoveryId };
}

/**
 * Runs a process's work under a guard (see `processGuard`): if the process ends before `work`
 * returns — terminated, timed out, failed — the `recovery` workflow finishes its work. `work`
 * is the whole process; an error it throws that is not Temporal's own (a bug) fails the
 * process with a typed, non-retryable `PROCESS_FAILED` rather than retrying its workflow task
 * forever, and the guard recovers it. The recovery must be idempotent with the process: it may
 * run after any step, including the last.
 */
export async function guarded<T>(options: { recovery: string; input: unknown; grace?: string }, work: () => Promise<T>): Promise<T> {
  const processId = workflowInfo().workflowId;
  // Started outside the process's cancellation: cancelling the process (which then compensates)
  // must not reach its guard; only the process's close does.
  const guard = await CancellationScope.nonCancellable(() =>
    startChild(processGuardType, {
      workflowId: `${processId}:guard`,
      args: [{ processId, recovery: options.recovery, input: options.input, grace: options.grace ?? processStepTimeout } satisfies ProcessGuardInput],
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    }),
  );
  let result: T;
  try {
    result = await work();
  } catch (error) {
    if (error instanceof TemporalFailure) throw error;
    throw ApplicationFailure.nonRetryable(error instanceof Error ? error.message : String(error), processFailedType);
  }
  await CancellationScope.nonCancellable(() => guard.signal(processSettledSignal));
  return result;
}
