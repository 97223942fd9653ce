import { z } from 'zod';
import { eventEnvelopeSchema, type EventEnvelope } from '../core/envelopes';
import { handlerFor, type AnyProjection, type EventHandler } from '../core/projection';
import { upcast } from '../core/upcasting';
import { aggregateKey } from './keys';
import { sleep } from '../infra/deadline';
import { createWorkingSet, type GenerationView, type IndexWrite, type WorkingSet } from './working-set';

export type { GenerationView, IndexMember, IndexWrite } from './working-set';

/** An event the projection could not apply, kept with the reason until it is re-driven. */
export interface ParkedEvent {
  offset: number;
  aggregate: string | null;
  version: number | null;
  error: string;
  attempts: number;
  parkedAt: string;
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

/**
 * Folds a batch of log entries into what it changes, reading the generation only through `view`.
 * Per aggregate: a version not newer than the stored one is a duplicate and skipped; one that
 * skips versions is held back (a gap); an event whose handler keeps throwing, or that cannot be
 * read, is parked and blocks its aggregate's later events, parked behind it so their order
 * survives a re-drive. Aggregates never wait on each other.
 */
export async function applyEntries(
  projection: AnyProjection,
  entries: readonly LogEntry[],
  view: GenerationView,
  options: ApplyOptions = {},
): Promise<{ batch: AppliedBatch; counters: ApplyCounters }> {
  const attempts = options.attempts ?? 3;
  const now = options.now ?? (() => new Date().toISOString());
  const counters: ApplyCounters = { applied: 0, duplicatesSkipped: 0, gaps: 0, parked: 0 };
  const parked: ParkedEvent[] = [];
  const park = (entry: LogEntry, error: string, tries: number, event?: EventEnvelope) => {
    parked.push({
      offset: entry.offset,
      aggregate: event ? aggregateKey(event.aggregateType, event.aggregateId) : null,
      version: event?.version ?? null,
      error,
      attempts: tries,
      parkedAt: now(),
      event: entry.body,
    });
  };

  // Events of this projection in log order; unreadable ones stay in place to be parked in turn.
  const events: { entry: LogEntry; event: EventEnvelope; invalid?: string }[] = [];
  for (const entry of entries) {
    const parsed = parseEntry(entry.body, projection);
    if (parsed.kind === 'event') events.push({ entry, event: parsed.event });
    else if (parsed.kind === 'invalid' && parsed.envelope) events.push({ entry, event: parsed.envelope, invalid: parsed.error });
    else if (parsed.kind === 'invalid') park(entry, parsed.error, 1);
  }

  const working = createWorkingSet(projection, view);
  const aggregates = [...new Set(events.map(({ event }) => aggregateKey(event.aggregateType, event.aggregateId)))];
  // The documents events change by default are read ahead with the versions, in one round trip.
  const ahead = events.filter((e) => !e.invalid && !handlerFor(projection, e.event.aggregateType, e.event.type)?.documents);
  const [storedVersions, blockedFlags] = await Promise.all([
    aggregates.length ? view.versions(aggregates) : [],
    aggregates.length ? view.blocked(aggregates) : [],
    working.load(ahead.map(({ event }) => event.aggregateId)),
  ]);
  const versions = new Map(aggregates.map((key, i) => [key, storedVersions[i] ?? 0]));
  const blocked = new Set(aggregates.filter((key, i) => blockedFlags[i] && !options.unblocked?.has(key)));
  const newlyBlocked = new Set<string>();
  const changedVersions = new Map<string, number>();

  for (const { entry, event, invalid } of events) {
    const key = aggregateKey(event.aggregateType, event.aggregateId);
    const last = versions.get(key) ?? 0;
    if (event.version <= last) {
      counters.duplicatesSkipped += 1;
      continue;
    }
    if (blocked.has(key) || newlyBlocked.has(key)) {
      park(entry, `waiting behind an earlier parked event of ${key}`, 0, event);
      continue;
    }
    if (invalid) {
      park(entry, invalid, 1, event);
      newlyBlocked.add(key);
      continue;
    }
    if (event.version > last + 1) {
      // Held back, not applied: the publisher re-sends from its first unconfirmed event, so
      // the missing versions come, and this one after them. Counted, so a gap that never
      // fills (events lost to retention) shows in status and metrics.
      counters.gaps += 1;
      options.onGap?.(key, last + 1, event.version);
      continue;
    }
    // An event without a handler changes no document, but its aggregate's version still moves.
    const handler = handlerFor(projection, event.aggregateType, event.type);
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
    batch: { documents: working.documents(), indexes: working.indexWrites(), versions: changedVersions, parked, blocked: [...newlyBlocked] },
  };
}

/** Applies one event to every document it changes, all or nothing. */
async function applyEvent(working: WorkingSet, handler: EventHandler<unknown, EventEnvelope>, event: EventEnvelope): Promise<void> {
  const layer = working.layer();
  const ids = handler.documents ? await handler.documents(event, layer.reader) : [event.aggregateId];
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string' && id !== '')) {
    throw new Error(`documents() for ${event.aggregateType}.${event.type} gave ${JSON.stringify(ids)}, not a list of ids`);
  }
  const unique = [...new Set(ids)];
  await working.load(unique);
  for (const id of unique) {
    const doc = await handler.apply(layer.current(id), event, layer.reader, id);
    if (doc === undefined) throw new Error(`the ${event.aggregateType}.${event.type} handler gave undefined for ${id}; return the document, or null to delete it`);
    layer.write(id, doc);
  }
  layer.keep();
}

/** Runs a handler up to `attempts` times with a short backoff; the last error, or null once it succeeds. */
async function withAttempts(attempts: number, delayMs: ((attempt: number) => number) | undefined, run: () => Promise<void>): Promise<string | null> {
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
