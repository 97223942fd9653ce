/**
 * Every buffer an aggregate keeps has a bound, chosen so that everything a run carries across
 * continue-as-new fits Temporal's payload limit with a wide margin in the worst case (Temporal
 * refuses a larger input and then terminates the workflow). Reaching a bound is a typed refusal
 * of new commands, never a loss of accepted ones. Pure: the workflow sandbox imports it.
 */
export const aggregateLimits = {
  /** One command envelope as JSON (the API and the workflow refuse a larger one). */
  commandBytes: 16 * 1024,
  /** Commands in one update; an API process coalesces at most this many per round trip. */
  commandsPerUpdate: 50,
  /** Commands in one update, as JSON. */
  updateBytes: 256 * 1024,
  /** Accepted, not yet decided commands: a full mailbox refuses new ones (retryable). */
  mailboxCommands: 500,
  mailboxBytes: 256 * 1024,
  /**
   * Decided, not yet published events (a broker outage grows this): at either bound new
   * commands are refused (retryable) and accepted ones wait until publishing drains it.
   */
  backlogEvents: 2_000,
  backlogBytes: 384 * 1024,
  /** What one command may decide. */
  decisionEvents: 100,
  decisionBytes: 16 * 1024,
  /** The aggregate's domain state as JSON: a command that would grow it past this is refused. */
  stateBytes: 256 * 1024,
  /**
   * How long a decided commandId is answered with its original outcome (or, once the bounds
   * below let it go first, refused COMMAND_ID_EXPIRED): the default of the workflow input's
   * `commandIdRetentionMs` (config `COMMAND_ID_RETENTION_HOURS`).
   */
  commandIdRetentionMs: 24 * 60 * 60 * 1000,
  /** The newest acceptances remembered in full (their events, as far as `outcomeRecordBytes` allows). */
  acceptedOutcomesKept: 500,
  /** Older acceptances remembered compactly (commandId, version, when): at most this many and bytes. */
  acceptedIdsKept: 4_000,
  acceptedIdsBytes: 192 * 1024,
  /** Refusals remembered apart, so that refusals never push an acceptance out. */
  refusalsKept: 100,
  /** A remembered outcome as JSON; its events are dropped (and the message cut) to fit. */
  outcomeRecordBytes: 512,
  /** The `recentEvents` query (Web UI). */
  recentEvents: 20,
  recentEventsBytes: 32 * 1024,
  /** Decisions recorded in one workflow task (the result of one decide step). */
  decideStepBytes: 512 * 1024,
  /**
   * Processes an aggregate decided to start and has not started yet (carried across a hand-over,
   * never dropped): a command whose events would start more is refused, retryable.
   */
  pendingStarts: 50,
  pendingStartsBytes: 64 * 1024,
  /**
   * How long a decide step waits for the other aggregates its commands read (lookups): a command
   * whose lookups have not answered by then is refused, retryable (`LOOKUP_UNAVAILABLE`), and
   * the rest of the mailbox is decided. Well inside the decide activity's 10 s.
   */
  lookupMs: 3_000,
  /** Temporal's default payload limit (`limit.blobSize.error`). */
  temporalPayloadBytes: 2 * 1024 * 1024,
} as const;

export type AggregateLimits = typeof aggregateLimits;

/**
 * The size of a value as Temporal's JSON payload converter writes it (UTF-8 bytes of its JSON),
 * computed without Node APIs so workflow code can use it.
 */
export function jsonBytes(value: unknown): number {
  return utf8Bytes(JSON.stringify(value) ?? '');
}

/** The bytes of a list of events counted one by one, so sums and differences stay exact. */
export function eventsBytes(events: readonly unknown[]): number {
  let bytes = 0;
  for (const event of events) bytes += jsonBytes(event);
  return bytes;
}

export function utf8Bytes(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      bytes += 4; // a surrogate pair: one 4-byte character
      i += 1;
    } else bytes += 3;
  }
  return bytes;
}
