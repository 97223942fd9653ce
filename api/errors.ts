import { TRPCError, type TRPC_ERROR_CODE_KEY } from '@trpc/server';
import { isRetryable, type ErrorKind, type Rejection } from '../core/errors';

/** Every error kind has a tRPC code; the compiler refuses a kind left unmapped. */
export const trpcCodeOf: Record<ErrorKind, TRPC_ERROR_CODE_KEY> = {
  INVALID_COMMAND: 'BAD_REQUEST',
  RULE_VIOLATED: 'UNPROCESSABLE_CONTENT',
  AGGREGATE_CLOSED: 'PRECONDITION_FAILED',
  VERSION_CONFLICT: 'CONFLICT',
  NOT_FOUND: 'NOT_FOUND',
  INTERNAL: 'INTERNAL_SERVER_ERROR',
  UNAVAILABLE: 'SERVICE_UNAVAILABLE',
};

/** Carries a rejection (and the command it refused) to the error formatter, which exposes both. */
export class RejectionError extends Error {
  override readonly name = 'RejectionError';
  constructor(
    readonly rejection: Rejection,
    readonly commandId?: string,
  ) {
    super(rejection.message);
  }

  get retryable() {
    return isRetryable(this.rejection.kind);
  }
}

/**
 * Something failed after the command was handed to its aggregate (a wait for the read models,
 * a service that went away): it may have been applied, and retrying with its id is safe.
 */
export class CommandInFlightError extends Error {
  override readonly name = 'CommandInFlightError';
  readonly retryable = true;
  constructor(
    readonly commandId: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function toTRPCError(rejection: Rejection, commandId?: string): TRPCError {
  return new TRPCError({ code: trpcCodeOf[rejection.kind], message: rejection.message, cause: new RejectionError(rejection, commandId) });
}

/** The commandId and retryability an error's cause carries, for the error formatter. */
export function commandFacts(cause: unknown): { commandId: string | null; retryable: boolean | null } {
  if (cause instanceof RejectionError) return { commandId: cause.commandId ?? null, retryable: cause.retryable };
  if (cause instanceof CommandInFlightError) return { commandId: cause.commandId, retryable: true };
  return { commandId: null, retryable: null };
}
