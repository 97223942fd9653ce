/**
 * What an aggregate remembers of the commands it decided, so that a retry is answered with its
 * original outcome instead of being applied again. Pure (no Node API, nothing of Temporal): the
 * actor holds one, the bus reads a terminal aggregate's from how its workflow ended.
 *
 * The guarantee, bounded in count and bytes so that a hand-over always fits Temporal's payload:
 * - an acceptance is answered for `retention` (24 h by default) however many commands come
 *   between: the newest `acceptedOutcomesKept` in full, older ones as (commandId, version);
 * - should a hot aggregate reach those bounds first, the acceptances let go raise a watermark:
 *   an unknown UUIDv7 commandId whose time is at or before it is refused COMMAND_ID_EXPIRED
 *   (it may be one of them), never decided again. Other ids (not UUIDv7, or timed after the
 *   moment they were decided) have the count bound only;
 * - refusals are kept apart (the newest `refusalsKept`), so they never push an acceptance out.
 *   Refusals that decided nothing (INTERNAL, retryable) are kept for lookups only: a resend of
 *   one is decided afresh.
 */
import type { CommandOutcome, OutcomeRecord } from '../core/envelopes';
import { isRetryable } from '../core/errors';
import { uuidV7Time } from '../core/ids';
import { aggregateLimits, jsonBytes, type AggregateLimits } from '../core/limits';
import { recordOf } from '../core/outcomes';

/** A remembered outcome and when it was decided (workflow time, ms since the epoch). */
export type TimedRecord = OutcomeRecord & { at: number };

/** An older acceptance, compactly: commandId, version, when decided. */
export type AcceptedId = [commandId: string, version: number, at: number];

/** What a run carries to the next (and a terminal aggregate ends with). Oldest first in each list. */
export interface RememberedOutcomes {
  accepted: TimedRecord[];
  refused: TimedRecord[];
  acceptedIds: AcceptedId[];
  /** The newest UUIDv7 time among the acceptances let go; 0 while none was. */
  watermark: number;
}

/** What an aggregate can say of a commandId: the `outcome` query and `system.commandOutcome`. */
export type CommandLookup =
  | { status: 'pending' }
  | { status: 'accepted'; version: number }
  | { status: 'rejected'; version: number; rejection: { kind: string; code: string; message: string } }
  | { status: 'unknown' };

/** A refusal that decided nothing (a bug, a bound): remembered for lookups, decided afresh when sent again. */
export const decidedAfresh = (record: OutcomeRecord): boolean =>
  record.status === 'rejected' && (isRetryable(record.rejection.kind) || record.rejection.kind === 'INTERNAL');

const entryBytes = (entry: AcceptedId) => jsonBytes(entry) + 1;

export class OutcomeMemory {
  private readonly accepted = new Map<string, TimedRecord>();
  private readonly refused = new Map<string, TimedRecord>();
  private readonly acceptedIds = new Map<string, AcceptedId>();
  private acceptedIdsBytes = 0;
  private watermark: number;

  constructor(
    private readonly retentionMs: number,
    carried: RememberedOutcomes | undefined,
    private readonly limits: AggregateLimits = aggregateLimits,
  ) {
    this.watermark = carried?.watermark ?? 0;
    for (const entry of carried?.acceptedIds ?? []) this.keepId(entry);
    for (const record of carried?.accepted ?? []) this.accepted.set(record.commandId, record);
    for (const record of carried?.refused ?? []) this.refused.set(record.commandId, record);
  }

  /** Outcomes remembered by runs from before this memory (no times): taken as decided `now`. */
  static fromRecords(retentionMs: number, records: readonly OutcomeRecord[], now: number, limits?: AggregateLimits): OutcomeMemory {
    const memory = new OutcomeMemory(retentionMs, undefined, limits);
    for (const record of records) memory.keep({ ...record, at: now });
    return memory;
  }

  /** What a terminal aggregate ended with (`AggregateEnd`): answered as it was, nothing let go. */
  static ended(records: readonly OutcomeRecord[], acceptedIds: readonly AcceptedId[] = []): OutcomeMemory {
    const timed = records.map((record) => ({ at: 0, ...record }) as TimedRecord);
    return new OutcomeMemory(Number.MAX_SAFE_INTEGER, {
      accepted: timed.filter((r) => r.status === 'accepted'),
      refused: timed.filter((r) => r.status === 'rejected'),
      acceptedIds: [...acceptedIds],
      watermark: 0,
    });
  }

  /** The outcome a retry of `commandId` is answered with, if it is not to be decided (again). */
  answer(commandId: string): OutcomeRecord | undefined {
    const record = this.recordOf(commandId);
    if (!record || decidedAfresh(record)) return undefined;
    const { at: _at, ...answer } = record as TimedRecord;
    return answer as OutcomeRecord;
  }

  /** Whether an unknown `commandId` may be one of the acceptances let go: refuse it, never decide it. */
  expired(commandId: string): boolean {
    const time = uuidV7Time(commandId);
    return time !== undefined && time <= this.watermark && this.answer(commandId) === undefined;
  }

  /** What is known of `commandId`, decided afresh or not (undecided commands are the actor's). */
  lookup(commandId: string): CommandLookup {
    const record = this.recordOf(commandId);
    if (!record) return { status: 'unknown' };
    if (record.status === 'accepted') return { status: 'accepted', version: record.version };
    const { kind, code, message } = record.rejection;
    return { status: 'rejected', version: record.version, rejection: { kind, code, message } };
  }

  remember(outcome: CommandOutcome, now: number): void {
    this.keep({ ...recordOf(outcome, this.limits.outcomeRecordBytes), at: now });
  }

  /** Lets go of what is older than the retention. */
  expire(now: number): void {
    const before = now - this.retentionMs;
    for (const [id, [, , at]] of this.acceptedIds) {
      if (at >= before) break;
      this.letGo(id);
    }
    for (const [id, record] of this.accepted) {
      if (record.at >= before) break;
      this.accepted.delete(id);
      this.watermark = raised(this.watermark, id, record.at);
    }
    for (const [id, record] of this.refused) {
      if (record.at >= before) break;
      this.refused.delete(id);
    }
  }

  carry(): RememberedOutcomes {
    return { accepted: [...this.accepted.values()], refused: [...this.refused.values()], acceptedIds: [...this.acceptedIds.values()], watermark: this.watermark };
  }

  /** How many outcomes are remembered, in full and compactly. */
  get size(): number {
    return this.accepted.size + this.refused.size + this.acceptedIds.size;
  }

  private recordOf(commandId: string): OutcomeRecord | undefined {
    const full = this.accepted.get(commandId) ?? this.refused.get(commandId);
    if (full) return full;
    const id = this.acceptedIds.get(commandId);
    return id && { status: 'accepted', commandId, version: id[1], events: [], eventsOmitted: true };
  }

  private keep(record: TimedRecord): void {
    this.refused.delete(record.commandId); // a refusal decided afresh may be accepted now
    if (record.status === 'rejected') {
      this.refused.set(record.commandId, record);
      if (this.refused.size > this.limits.refusalsKept) this.refused.delete(this.refused.keys().next().value!);
      return;
    }
    this.accepted.set(record.commandId, record);
    if (this.accepted.size <= this.limits.acceptedOutcomesKept) return;
    const [oldest] = this.accepted.values();
    this.accepted.delete(oldest!.commandId);
    this.keepId([oldest!.commandId, oldest!.version, oldest!.at]);
    while (this.acceptedIds.size > this.limits.acceptedIdsKept || this.acceptedIdsBytes > this.limits.acceptedIdsBytes) {
      this.letGo(this.acceptedIds.keys().next().value!);
    }
  }

  private keepId(entry: AcceptedId): void {
    this.acceptedIds.set(entry[0], entry);
    this.acceptedIdsBytes += entryBytes(entry);
  }

  private letGo(commandId: string): void {
    const entry = this.acceptedIds.get(commandId)!;
    this.acceptedIds.delete(commandId);
    this.acceptedIdsBytes -= entryBytes(entry);
    this.watermark = raised(this.watermark, commandId, entry[2]);
  }
}

/**
 * A smaller memory for a hand-over that came near its budget: the older half of the compact
 * acceptances, then of the refusals, then of the full acceptances let go (acceptances raise
 * the watermark, so their retries are refused, not applied). Undefined when nothing is left.
 */
export function shed(remembered: RememberedOutcomes): RememberedOutcomes | undefined {
  const { accepted, refused, acceptedIds } = remembered;
  const older = <T>(items: T[]) => items.slice(0, Math.max(1, items.length >> 1));
  const raisedBy = (dropped: readonly (readonly [string, number])[]) => dropped.reduce((mark, [id, at]) => raised(mark, id, at), remembered.watermark);
  if (acceptedIds.length > 0) {
    const dropped = older(acceptedIds);
    return { ...remembered, acceptedIds: acceptedIds.slice(dropped.length), watermark: raisedBy(dropped.map(([id, , at]) => [id, at] as const)) };
  }
  if (refused.length > 0) return { ...remembered, refused: refused.slice(older(refused).length) };
  if (accepted.length > 0) {
    const dropped = older(accepted);
    return { ...remembered, accepted: accepted.slice(dropped.length), watermark: raisedBy(dropped.map((r) => [r.commandId, r.at] as const)) };
  }
  return undefined;
}

/**
 * The watermark once `commandId`, decided `at`, is let go. Only a UUIDv7 timed no later than it
 * was decided moves it: a client whose clock runs ahead (or lies) must not make the aggregate
 * refuse everyone's new commands.
 */
function raised(watermark: number, commandId: string, at: number): number {
  const time = uuidV7Time(commandId);
  return time !== undefined && time <= at && time > watermark ? time : watermark;
}
