/**
 * Every rejection Ledgerflow gives has a kind from this table. The API maps each kind to a
 * tRPC code through a Record, so a new kind cannot be added without deciding its status.
 */
export const errorKinds = [
  /** The command is malformed: wrong fields, wrong types, out-of-range values. */
  'INVALID_COMMAND',
  /** A business rule forbids the command in the aggregate's current state. */
  'RULE_VIOLATED',
  /** The aggregate reached a terminal state and takes no more commands. */
  'AGGREGATE_CLOSED',
  /** The caller's expectedVersion is not the aggregate's version. */
  'VERSION_CONFLICT',
  /** The aggregate or read model does not exist. */
  'NOT_FOUND',
  /** The domain code failed unexpectedly (a bug): the command was refused, nothing changed. */
  'INTERNAL',
] as const;

export type ErrorKind = (typeof errorKinds)[number];

/** A JSON-safe description of a rejection: what the workflow answers and the API reports. */
export interface Rejection {
  kind: ErrorKind;
  /** The specific reason, e.g. `CART_EMPTY`; the aggregate's own table of codes. */
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** Thrown by `decide` when a command breaks a rule; carries a code from the aggregate's table. */
export class DomainError extends Error {
  override readonly name = 'DomainError';
  constructor(
    readonly code: string,
    message: string,
    readonly kind: ErrorKind = 'RULE_VIOLATED',
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  toRejection(): Rejection {
    return { kind: this.kind, code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

export function isDomainError(error: unknown): error is DomainError {
  return error instanceof DomainError;
}
