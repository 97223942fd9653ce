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
  /** The caller's expectedVersion is not the aggregate's version (or its commandId is older than the aggregate remembers). */
  'VERSION_CONFLICT',
  /** The aggregate or read model does not exist. */
  'NOT_FOUND',
  /** The domain code failed unexpectedly (a bug): the command was refused, nothing changed. */
  'INTERNAL',
  /**
   * A bound was reached or a service did not answer in time: nothing was decided (or, for a
   * timeout, maybe it was). Retrying with the same commandId is safe and may succeed later.
   */
  'UNAVAILABLE',
] as const;

export type ErrorKind = (typeof errorKinds)[number];

/** Rejections of this kind are not final: the same command may succeed when retried. */
export const isRetryable = (kind: ErrorKind) => kind === 'UNAVAILABLE';

/** The engine's own rejection codes (an aggregate adds its domain codes beside them). */
export const engineCodes = {
  UNKNOWN_COMMAND: 'UNKNOWN_COMMAND',
  INVALID_PAYLOAD: 'INVALID_PAYLOAD',
  COMMAND_TOO_LARGE: 'COMMAND_TOO_LARGE',
  /** A caller sent a commandId in the process namespace (it holds a '/'): only processes send those. */
  PROCESS_COMMAND_ID: 'PROCESS_COMMAND_ID',
  VERSION_CONFLICT: 'VERSION_CONFLICT',
  /** The domain code threw something other than a DomainError. */
  DECIDE_FAILED: 'DECIDE_FAILED',
  /** One command decided more events, or larger ones, than an aggregate may carry. */
  DECISION_TOO_LARGE: 'DECISION_TOO_LARGE',
  /** The command would grow the aggregate's state past its bound. */
  STATE_TOO_LARGE: 'STATE_TOO_LARGE',
  /** The aggregate's workflow was closed outside Ledgerflow (terminated, failed): never restarted empty. */
  AGGREGATE_WORKFLOW_CLOSED: 'AGGREGATE_WORKFLOW_CLOSED',
  /**
   * The aggregate has events (a projector applied them) but its workflow history is gone: deleted
   * by Temporal's retention or an operator. It is never started again at version 0.
   */
  AGGREGATE_HISTORY_MISSING: 'AGGREGATE_HISTORY_MISSING',
  /**
   * Another aggregate this command's decision reads did not answer within `lookupMs`: the
   * command is refused (retryable, nothing decided) and the mailbox goes on.
   */
  LOOKUP_UNAVAILABLE: 'LOOKUP_UNAVAILABLE',
  /**
   * The processes this aggregate decided to start and has not started yet reached their bound
   * (`pendingStarts`): a command whose events would start more is refused, retryable.
   */
  PROCESS_STARTS_FULL: 'PROCESS_STARTS_FULL',
  /** Unpublished events reached their bound (the broker is away or slow). */
  AGGREGATE_BACKLOG_FULL: 'AGGREGATE_BACKLOG_FULL',
  /** The aggregate is handing over to a new run (continue-as-new): the API retries by itself. */
  AGGREGATE_HANDING_OVER: 'AGGREGATE_HANDING_OVER',
  /** Accepted, undecided commands reached their bound. */
  AGGREGATE_MAILBOX_FULL: 'AGGREGATE_MAILBOX_FULL',
  /** The API process holds its bound of commands waiting for this aggregate (or for all). */
  COMMAND_QUEUE_FULL: 'COMMAND_QUEUE_FULL',
  /**
   * A retry of a commandId older than what the aggregate still remembers (a UUIDv7 at or before
   * its watermark): it may have been applied, so it is refused rather than decided again.
   */
  COMMAND_ID_EXPIRED: 'COMMAND_ID_EXPIRED',
  /** No worker decided the command before the submission deadline; it may still be applied. */
  COMMAND_TIMEOUT: 'COMMAND_TIMEOUT',
  /** Temporal did not answer. */
  TEMPORAL_UNAVAILABLE: 'TEMPORAL_UNAVAILABLE',
  /**
   * A projection's parked list reached its bound (kind UNAVAILABLE): the projection stops
   * consuming, drops nothing, and goes on once a re-drive makes room. In its status (`halted`).
   */
  PARKED_LIST_FULL: 'PARKED_LIST_FULL',
  /**
   * A rebuild caught up but the log lacks some aggregates' history (a first event after version
   * 1, or a gap): it does not switch until an operator accepts the gaps. In its status (`rebuild.held`).
   */
  REBUILD_HELD_FOR_GAPS: 'REBUILD_HELD_FOR_GAPS',
  /** Redis is not connected: a read (or the limiter) could not run. Kind UNAVAILABLE. */
  REDIS_UNAVAILABLE: 'REDIS_UNAVAILABLE',
  /** Redis did not answer a call within API_REDIS_TIMEOUT_MS (paused, overloaded). Kind UNAVAILABLE. */
  REDIS_TIMEOUT: 'REDIS_TIMEOUT',
  /** The caller spent its API_RATE_LIMIT for the window (429, with Retry-After). Kind UNAVAILABLE. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** A tRPC batch of more than API_MAX_BATCH calls (400, none of it ran). Kind INVALID_COMMAND. */
  BATCH_TOO_LARGE: 'BATCH_TOO_LARGE',
  /** The caller, or the API process, holds its bound of live subscriptions (429, with Retry-After). Kind UNAVAILABLE. */
  SUBSCRIPTION_LIMIT: 'SUBSCRIPTION_LIMIT',
} as const;

/** A JSON-safe description of a rejection: what the workflow answers and the API reports. */
export interface Rejection {
  kind: ErrorKind;
  /** The specific reason, e.g. `CART_EMPTY`; the aggregate's own table of codes. */
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** Thrown by `decide` when a command breaks a rule; carries a code from the aggregate's table. */
/** Marks DomainErrors across copies of this module (an app's config loaded through tsx, a bundle). */
const domainErrorBrand = Symbol.for('ledgerflow.DomainError');

export class DomainError extends Error {
  override readonly name = 'DomainError';
  readonly [domainErrorBrand] = true;

  /** `error instanceof DomainError` holds for a DomainError from any copy of the engine an app loaded. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[domainErrorBrand] === true;
  }

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
