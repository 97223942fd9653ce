import { TRPCError, type TRPC_ERROR_CODE_KEY } from '@trpc/server';
import type { ErrorKind, Rejection } from '../core/errors';

/** Every error kind has a tRPC code; the compiler refuses a kind left unmapped. */
export const trpcCodeOf: Record<ErrorKind, TRPC_ERROR_CODE_KEY> = {
  INVALID_COMMAND: 'BAD_REQUEST',
  RULE_VIOLATED: 'UNPROCESSABLE_CONTENT',
  AGGREGATE_CLOSED: 'PRECONDITION_FAILED',
  VERSION_CONFLICT: 'CONFLICT',
  NOT_FOUND: 'NOT_FOUND',
  INTERNAL: 'INTERNAL_SERVER_ERROR',
};

/** Carries a rejection to the error formatter, which exposes its code and details. */
export class RejectionError extends Error {
  override readonly name = 'RejectionError';
  constructor(readonly rejection: Rejection) {
    super(rejection.message);
  }
}

export function toTRPCError(rejection: Rejection): TRPCError {
  return new TRPCError({ code: trpcCodeOf[rejection.kind], message: rejection.message, cause: new RejectionError(rejection) });
}
