/**
 * What a failure from Temporal's client means for a command: try again now, the aggregate's
 * workflow is closed, a typed rejection the caller may retry (or not), or unexpected. The one
 * place that walks an error's cause chain (the bus and the API's `unavailable` middleware use it).
 */
import { WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, isGrpcServiceError } from '@temporalio/client';
import { ApplicationFailure, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import { engineCodes, type Rejection } from '../core/errors';

/** The gRPC status codes Ledgerflow tells apart. */
export const grpcStatus = { DEADLINE_EXCEEDED: 4, RESOURCE_EXHAUSTED: 8, UNAVAILABLE: 14 } as const;

/** Whether `error` or any error in its cause chain passes `test` (a chain that loops back ends there). */
export function anyCause(error: unknown, test: (cause: unknown) => boolean): boolean {
  const seen = new Set<unknown>();
  for (let current = error; current !== undefined && !seen.has(current); current = current instanceof Error ? current.cause : undefined) {
    if (test(current)) return true;
    seen.add(current);
  }
  return false;
}

/** A gRPC status anywhere in the cause chain. */
export const hasGrpcStatus = (error: unknown, code: number): boolean => anyCause(error, (cause) => isGrpcServiceError(cause) && cause.code === code);

/** Temporal did not answer (UNAVAILABLE) or not in time (DEADLINE_EXCEEDED): the same call may succeed later. */
export const temporalAway = (error: unknown): boolean => hasGrpcStatus(error, grpcStatus.UNAVAILABLE) || hasGrpcStatus(error, grpcStatus.DEADLINE_EXCEEDED);

/** The aggregate's workflow is closed: starting it was refused, or it was gone when asked. */
export const isClosedWorkflow = (error: unknown): boolean =>
  anyCause(error, (cause) => cause instanceof WorkflowExecutionAlreadyStartedError || cause instanceof WorkflowNotFoundError);

/** Whether the workflow's validator refused the update with this failure type. */
export const refusedAs = (error: unknown, type: string): boolean =>
  error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure && error.cause.type === type;

/**
 * Other API processes hold the workflow's 10 in-flight updates, or the aggregate is handing over
 * to a new run: the same update succeeds in a moment.
 */
export const busyForAMoment = (error: unknown): boolean =>
  hasGrpcStatus(error, grpcStatus.RESOURCE_EXHAUSTED) || refusedAs(error, engineCodes.AGGREGATE_HANDING_OVER);

/** The rejection a failed delivery amounts to (`deadline` is the batch's), or null for an unexpected failure. */
export function rejectionOf(error: unknown, deadline: number, now = Date.now()): Omit<Rejection, 'details'> | null {
  if (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure) {
    const { type, message } = error.cause;
    if (type === engineCodes.AGGREGATE_BACKLOG_FULL || type === engineCodes.AGGREGATE_MAILBOX_FULL || type === engineCodes.AGGREGATE_HANDING_OVER) {
      return { kind: 'UNAVAILABLE', code: type, message };
    }
    if (type === engineCodes.COMMAND_TOO_LARGE || type === 'INVALID_UPDATE') return { kind: 'INVALID_COMMAND', code: engineCodes.COMMAND_TOO_LARGE, message };
  }
  if (hasGrpcStatus(error, grpcStatus.UNAVAILABLE)) return { kind: 'UNAVAILABLE', code: engineCodes.TEMPORAL_UNAVAILABLE, message: 'Temporal is unavailable; retry with the same commandId' };
  if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError || hasGrpcStatus(error, grpcStatus.DEADLINE_EXCEEDED) || now >= deadline) {
    return {
      kind: 'UNAVAILABLE',
      code: engineCodes.COMMAND_TIMEOUT,
      message: 'it was not decided before the deadline (is a worker running?); it may still be applied, so retry with the same commandId',
    };
  }
  return null;
}
