import { z } from 'zod';
import { eventEnvelopeSchema, type EventEnvelope } from '../core/envelopes';
import type { AnyProjection } from '../core/projection';
import { upcast } from '../core/upcasting';
import type { Redis } from '../infra/redis';
import type { Batch } from './commit';
import { aggregateKey, appliedChannel, type ProjectionKeys } from './keys';
import type { AppliedNotice } from './store';
import { sleep } from './stream';

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
  redis: Redis;
  projection: AnyProjection;
  keys: ProjectionKeys;
  prefix: string;
  generation: number;
  /** Attempts of a throwing handler before its event is parked. */
  attempts: number;
  onGap?: (aggregate: string, expected: number, got: number) => void;
  /** Aggregates whose block a re-drive lifts (in the same commit). */
  unblocked?: ReadonlySet<string>;
}

type Parsed =
  | { kind: 'other' }
  | { kind: 'event'; event: EventEnvelope }
  /** `envelope` when only the payload is wrong: its aggregate is then blocked behind it. */
  | { kind: 'invalid'; error: string; envelope?: EventEnvelope };

/** Decodes a log entry into the projection's current event shape (upcast and validated). */
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
  if (envelope.data.aggregateType !== projection.source.name) return { kind: 'other' };
  const schema: z.ZodObject | undefined = Object.hasOwn(projection.source.events, envelope.data.type)
    ? projection.source.events[envelope.data.type]
    : undefined;
  if (!schema) return { kind: 'invalid', error: `unknown event type ${envelope.data.type}`, envelope: envelope.data };
  let current: EventEnvelope;
  try {
    current = upcast(projection.source, envelope.data);
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
 * Folds a batch of log entries into the documents it touches. Duplicates (a version not newer
 * than the stored one) are skipped; an event whose handler keeps throwing is parked and blocks
 * its aggregate's later events, which are parked behind it so their order survives a re-drive.
 */
export async function applyEntries(
  options: ApplyOptions,
  entries: LogEntry[],
  checkpoint: number,
): Promise<{ batch: Batch; counters: ApplyCounters }> {
  const { redis, projection, keys, generation } = options;
  const counters: ApplyCounters = { applied: 0, duplicatesSkipped: 0, gaps: 0, parked: 0 };
  const parked: ParkedEvent[] = [];
  const park = (entry: LogEntry, error: string, attempts: number, event?: EventEnvelope) => {
    parked.push({
      offset: entry.offset,
      aggregate: event ? aggregateKey(event.aggregateType, event.aggregateId) : null,
      version: event?.version ?? null,
      error,
      attempts,
      parkedAt: new Date().toISOString(),
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

  const aggregates = [...new Set(events.map(({ event }) => aggregateKey(event.aggregateType, event.aggregateId)))];
  const documentIds = [...new Set(events.filter((e) => !e.invalid).map(({ event }) => projection.documentId(event)))];
  const [storedVersions, storedDocs, blockedFlags] = await Promise.all([
    aggregates.length ? redis.hmGet(keys.versions(generation), aggregates) : Promise.resolve([]),
    documentIds.length ? redis.mGet(documentIds.map((id) => keys.document(generation, id))) : Promise.resolve([]),
    aggregates.length ? redis.smIsMember(keys.blocked(generation), aggregates) : Promise.resolve([]),
  ]);
  const versions = new Map(aggregates.map((key, i) => [key, Number(storedVersions[i] ?? 0)]));
  const blocked = new Set(aggregates.filter((key, i) => Number(blockedFlags[i]) === 1 && !options.unblocked?.has(key)));
  const newlyBlocked = new Set<string>();
  const docs = new Map<string, unknown>(documentIds.map((id, i) => [id, storedDocs[i] == null ? null : JSON.parse(storedDocs[i]!)]));
  const changedDocs = new Set<string>();
  const changedVersions = new Map<string, number>();
  const scoresOf = new Map<string, readonly (readonly [string, number | null])[]>();

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
    const id = projection.documentId(event);
    // The index scores are computed with the document, so a throwing index parks the event too.
    const result = await withAttempts(options.attempts, () => {
      const doc = projection.evolve(docs.get(id) ?? null, event);
      const scores = Object.entries(projection.indexes).map(([name, score]) => {
        const value = doc === null ? null : score(doc);
        if (value !== null && !Number.isFinite(value)) throw new Error(`index ${name} gave ${value}, not a finite number or null`);
        return [name, value] as const;
      });
      return { doc, scores };
    });
    if ('error' in result) {
      park(entry, result.error, options.attempts, event);
      newlyBlocked.add(key);
      continue;
    }
    docs.set(id, result.value.doc);
    scoresOf.set(id, result.value.scores);
    versions.set(key, event.version);
    changedVersions.set(key, event.version);
    changedDocs.add(id);
    counters.applied += 1;
  }
  counters.parked = parked.length;

  const notice = changedVersions.size
    ? JSON.stringify({ projection: projection.name, generation, versions: Object.fromEntries(changedVersions) } satisfies AppliedNotice)
    : '';
  const indexes = [...scoresOf].flatMap(([id, scores]) => scores.map(([name, score]) => [keys.index(generation, name), id, score] as [string, string, number | null]));
  return {
    counters,
    batch: {
      documents: new Map([...changedDocs].map((id) => [keys.document(generation, id), docs.get(id) === null ? null : JSON.stringify(docs.get(id))])),
      indexes,
      versions: changedVersions,
      parked: parked.map((p) => JSON.stringify(p)),
      blocked: [...newlyBlocked],
      checkpoint,
      channel: appliedChannel(options.prefix),
      notice,
    },
  };
}

/** Runs a handler up to `attempts` times with a short exponential backoff. */
async function withAttempts<T>(attempts: number, run: () => T): Promise<{ value: T } | { error: string }> {
  let last: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      return { value: run() };
    } catch (error) {
      last = error;
      if (attempt < attempts - 1) await sleep(20 * 2 ** attempt);
    }
  }
  return { error: last instanceof Error ? `${last.name}: ${last.message}` : String(last) };
}
