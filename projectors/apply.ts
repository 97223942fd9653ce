import { z } from 'zod';
import { eventEnvelopeSchema, type EventEnvelope } from '../core/envelopes';
import { handlerFor, type AnyProjection, type EventHandler, type IndexFanOut, type ProjectionReader } from '../core/projection';
import { upcast } from '../core/upcasting';
import { aggregateKey } from './keys';
import { sleep } from '../infra/deadline';
import { createWorkingSet, type GapRecord, type GenerationView, type IndexWrite, type WorkingSet } from './working-set';

export type { GapRecord, GenerationView, IndexMember, IndexWrite } from './working-set';

/** An event the projection could not apply, kept with the reason until it is re-driven. */
export interface ParkedEvent {
  offset: number;
  aggregate: string | null;
  version: number | null;
  error: string;
  attempts: number;
  parkedAt: string;
  /** Set when the event was parked because versions before it are missing from the log. */
  gap?: GapRecord;
  /** The message body as it was on the log. */
  event: unknown;
}

export interface LogEntry {
  offset: number;
  body: unknown;
}

export interface ApplyCounters {
  applied: number;
  duplicatesSkipped: number;
  gaps: number;
  parked: number;
}

export interface ApplyOptions {
  /** Attempts of a throwing handler before its event is parked (3). */
  attempts?: number;
  /** The pause before retry n (0-based); 20 ms doubling by default. */
  retryDelayMs?: (attempt: number) => number;
  onGap?: (aggregate: string, expected: number, got: number) => void;
  /** Aggregates whose block a re-drive lifts (in the same commit). */
  unblocked?: ReadonlySet<string>;
  /** The time parked events are stamped with. */
  now?: () => string;
}

/**
 * What one batch changes, by document id, index and aggregate key: the runtime writes it in one
 * atomic step with the checkpoint (projectors/commit.ts).
 */
export interface AppliedBatch {
  /** Document id → the new document, or null to delete it. */
  documents: Map<string, unknown>;
  indexes: IndexWrite[];
  /** Aggregate key (`<aggregateType>:<aggregateId>`) → its last applied version. */
  versions: Map<string, number>;
  parked: ParkedEvent[];
  /** Aggregates newly blocked behind a parked event. */
  blocked: string[];
  /** Gaps newly found, by aggregate (each aggregate is in `blocked` too). */
  gaps: Map<string, GapRecord>;
}

type Parsed =
  | { kind: 'other' }
  | { kind: 'event'; event: EventEnvelope }
  /** `envelope` when only the payload is wrong: its aggregate is then blocked behind it. */
  | { kind: 'invalid'; error: string; envelope?: EventEnvelope };

/** Decodes a log entry into its source's current event shape (upcast and validated). */
export function parseEntry(body: unknown, projection: AnyProjection): Parsed {
  let value = body;
  if (Buffer.isBuffer(body) || typeof body === 'string') {
    try {
      value = JSON.parse(body.toString());
    } catch {
      return { kind: 'invalid', error: 'body is not JSON' };
    }
  }
  const envelope = eventEnvelopeSchema.safeParse(value);
  if (!envelope.success) return { kind: 'invalid', error: `not an event envelope: ${envelope.error.message}` };
  const source = projection.sources.find((s) => s.name === envelope.data.aggregateType);
  if (!source) return { kind: 'other' };
  const schema: z.ZodObject | undefined = Object.hasOwn(source.events, envelope.data.type) ? source.events[envelope.data.type] : undefined;
  if (!schema) return { kind: 'invalid', error: `unknown event type ${envelope.data.type}`, envelope: envelope.data };
  let current: EventEnvelope;
  try {
    current = upcast(source, envelope.data);
  } catch (error) {
    return { kind: 'invalid', error: String(error), envelope: envelope.data };
  }
  const payload = schema.safeParse(current.payload);
  if (!payload.success) {
    return { kind: 'invalid', error: `invalid ${current.type} payload: ${z.prettifyError(payload.error)}`, envelope: envelope.data };
  }
  return { kind: 'event', event: { ...current, payload: payload.data as Record<string, unknown> } };
}

/** An event whose handler fans out over an index: applied in chunks of its own (projectors/fan-out.ts). */
export interface PendingFanOut {
  entry: LogEntry;
  event: EventEnvelope;
  handler: EventHandler<unknown, EventEnvelope>;
  spec: IndexFanOut;
}

export interface AppliedEntries {
  batch: AppliedBatch;
  counters: ApplyCounters;
  /** How many entries, from the first, the batch covers: all of them unless it stopped at a fan-out. */
  consumed: number;
  /** The fan-out event the batch stopped before (at `entries[consumed]`). */
  fanOut?: PendingFanOut;
  /** A missing version of a gap-blocked aggregate arrived (and was parked behind it): a re-drive can now apply them in order. */
  filled: boolean;
}

/**
 * Folds a batch of log entries into what it changes, reading the generation only through `view`.
 * Per aggregate: a version not newer than the stored one is a duplicate and skipped; one that
 * skips versions is a gap: parked, and its aggregate blocked behind it, never skipped (the log may
 * have lost history, or the missing versions are still to come); an event whose handler keeps
 * throwing, or that cannot be read, is parked and blocks its aggregate too. Events of a blocked
 * aggregate are parked behind the block, so their order survives a re-drive. Aggregates never
 * wait on each other. The batch stops before an event that fans out over an index.
 */
export async function applyEntries(
  projection: AnyProjection,
  entries: readonly LogEntry[],
  view: GenerationView,
  options: ApplyOptions = {},
): Promise<AppliedEntries> {
  const attempts = options.attempts ?? 3;
  const now = options.now ?? (() => new Date().toISOString());
  const counters: ApplyCounters = { applied: 0, duplicatesSkipped: 0, gaps: 0, parked: 0 };
  const parked: ParkedEvent[] = [];
  const park = (entry: LogEntry, error: string, tries: number, event?: EventEnvelope, gap?: GapRecord) => {
    parked.push({
      offset: entry.offset,
      aggregate: event ? aggregateKey(event.aggregateType, event.aggregateId) : null,
      version: event?.version ?? null,
      error,
      attempts: tries,
      parkedAt: now(),
      ...(gap && { gap }),
      event: entry.body,
    });
  };

  // Every entry in log order: events of this projection (unreadable ones kept to be parked in turn).
  const read = entries.map((entry) => ({ entry, parsed: parseEntry(entry.body, projection) }));
  const events = read.flatMap(({ entry, parsed }): { entry: LogEntry; event: EventEnvelope; invalid?: string }[] =>
    parsed.kind === 'event' ? [{ entry, event: parsed.event }] : parsed.kind === 'invalid' && parsed.envelope ? [{ entry, event: parsed.envelope, invalid: parsed.error }] : [],
  );

  const working = createWorkingSet(projection, view);
  const aggregates = [...new Set(events.map(({ event }) => aggregateKey(event.aggregateType, event.aggregateId)))];
  // The documents events change by default are read ahead with the versions, in one round trip.
  const ahead = events.filter((e) => {
    const handler = e.invalid ? undefined : handlerFor(projection, e.event.aggregateType, e.event.type);
    return handler && !handler.documents && !handler.fanOut;
  });
  const [storedVersions, blockedFlags, storedGaps] = await Promise.all([
    aggregates.length ? view.versions(aggregates) : [],
    aggregates.length ? view.blocked(aggregates) : [],
    aggregates.length ? view.gaps(aggregates) : [],
    working.load(ahead.map(({ event }) => event.aggregateId)),
  ]);
  const versions = new Map(aggregates.map((key, i) => [key, storedVersions[i] ?? 0]));
  const blocked = new Set(aggregates.filter((key, i) => blockedFlags[i] && !options.unblocked?.has(key)));
  const gaps = new Map(aggregates.flatMap((key, i) => (storedGaps[i] && blocked.has(key) ? [[key, storedGaps[i]!] as const] : [])));
  const newlyBlocked = new Set<string>();
  const newGaps = new Map<string, GapRecord>();
  const changedVersions = new Map<string, number>();
  let filled = false;
  let consumed = entries.length;
  let fanOut: PendingFanOut | undefined;

  for (const [position, { entry, parsed }] of read.entries()) {
    if (parsed.kind === 'other') continue;
    if (parsed.kind === 'invalid' && !parsed.envelope) {
      park(entry, parsed.error, 1);
      continue;
    }
    const event = parsed.kind === 'event' ? parsed.event : parsed.envelope!;
    const invalid = parsed.kind === 'invalid' ? parsed.error : undefined;
    const key = aggregateKey(event.aggregateType, event.aggregateId);
    const last = versions.get(key) ?? 0;
    if (event.version <= last) {
      counters.duplicatesSkipped += 1;
      continue;
    }
    if (blocked.has(key) || newlyBlocked.has(key)) {
      const gap = gaps.get(key) ?? newGaps.get(key);
      // A version the gap lacks: parked too, and the re-drive it asks for applies them in order.
      if (gap && event.version < gap.got) filled = true;
      park(entry, `waiting behind an earlier parked event of ${key}`, 0, event);
      continue;
    }
    if (invalid) {
      park(entry, invalid, 1, event);
      newlyBlocked.add(key);
      continue;
    }
    if (event.version > last + 1) {
      // Never skipped: the log lacks versions last+1..version-1 (lost to retention, or still to
      // come from a publisher's retry). Parked, blocking the aggregate, reported, until a re-drive.
      const gap = { expected: last + 1, got: event.version, offset: entry.offset };
      counters.gaps += 1;
      options.onGap?.(key, gap.expected, gap.got);
      park(entry, `gap: versions ${gap.expected}..${gap.got - 1} of ${key} are not in the log before this one`, 0, event, gap);
      newlyBlocked.add(key);
      newGaps.set(key, gap);
      continue;
    }
    // An event without a handler changes no document, but its aggregate's version still moves.
    const handler = handlerFor(projection, event.aggregateType, event.type);
    if (handler?.fanOut) {
      consumed = position;
      fanOut = { entry, event, handler, spec: handler.fanOut(event) };
      break;
    }
    if (handler) {
      const failed = await withAttempts(attempts, options.retryDelayMs, () => applyEvent(working, handler, event));
      if (failed) {
        park(entry, failed, attempts, event);
        newlyBlocked.add(key);
        continue;
      }
    }
    versions.set(key, event.version);
    changedVersions.set(key, event.version);
    counters.applied += 1;
  }
  counters.parked = parked.length;

  return {
    counters,
    consumed,
    ...(fanOut && { fanOut }),
    filled,
    batch: {
      documents: working.documents(),
      indexes: working.indexWrites(),
      versions: changedVersions,
      parked,
      blocked: [...newlyBlocked],
      gaps: newGaps,
    },
  };
}

/** Applies one event to every document it changes (or to `only` those), all or nothing. */
export async function applyEvent(working: WorkingSet, handler: EventHandler<unknown, EventEnvelope>, event: EventEnvelope, only?: readonly string[]): Promise<void> {
  const layer = working.layer();
  const unique = only ?? (await documentsOf(handler, event, layer.reader));
  await working.load(unique);
  for (const id of unique) {
    const doc = await handler.apply(layer.current(id), event, layer.reader, id);
    if (doc === undefined) throw new Error(`the ${event.aggregateType}.${event.type} handler gave undefined for ${id}; return the document, or null to delete it`);
    layer.write(id, doc);
  }
  layer.keep();
}

/** The documents a handler names for an event (its aggregate's own by default), checked and without repeats. */
export async function documentsOf(handler: EventHandler<unknown, EventEnvelope>, event: EventEnvelope, reader: ProjectionReader): Promise<string[]> {
  const ids = handler.documents ? await handler.documents(event, reader) : [event.aggregateId];
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string' && id !== '')) {
    throw new Error(`documents() for ${event.aggregateType}.${event.type} gave ${JSON.stringify(ids)}, not a list of ids`);
  }
  return [...new Set(ids)];
}

/** Runs a handler up to `attempts` times with a short backoff; the last error, or null once it succeeds. */
export async function withAttempts(attempts: number, delayMs: ((attempt: number) => number) | undefined, run: () => Promise<void>): Promise<string | null> {
  let last: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      await run();
      return null;
    } catch (error) {
      last = error;
      if (attempt < attempts - 1) await sleep(delayMs ? delayMs(attempt) : 20 * 2 ** attempt);
    }
  }
  return last instanceof Error ? `${last.name}: ${last.message}` : String(last);
}
