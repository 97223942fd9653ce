import { maxPageSize, type Page } from '../core/module';
import type { AnyProjection, DocOf } from '../core/projection';
import type { Redis } from '../infra/redis';
import { aggregateKey, appliedChannel, projectionKeys } from './keys';

/**
 * Reads the active generation's key in one step, so a read never straddles a generation switch
 * (the old generation is dropped right after it).
 */
const readActive = `
local generation = redis.call('HGET', KEYS[1], 'generation') or '1'
local key = ARGV[1] .. generation .. ARGV[2]
if ARGV[4] == 'hash' then return redis.call('HGET', key, ARGV[3]) end
return redis.call('GET', key .. ARGV[3])`;

/** Documents by score from a projection's index, in the active generation, in one step. */
const readIndex = `
local generation = redis.call('HGET', KEYS[1], 'generation') or '1'
local index = ARGV[1] .. generation .. ARGV[2]
local ids
if ARGV[6] == 'desc' then
  ids = redis.call('ZRANGE', index, ARGV[4], ARGV[3], 'BYSCORE', 'REV', 'LIMIT', 0, ARGV[5])
else
  ids = redis.call('ZRANGE', index, ARGV[3], ARGV[4], 'BYSCORE', 'LIMIT', 0, ARGV[5])
end
if #ids == 0 then return {} end
local keys = {}
for i, id in ipairs(ids) do keys[i] = ARGV[1] .. generation .. ARGV[7] .. id end
return redis.call('MGET', unpack(keys))`;

/**
 * One page of documents from an index, in the active generation, in one step. After a cursor
 * (the last member of the previous page and its score), the page starts right after that member
 * while it still holds its score, or else after every member scored before it (a document that
 * moved since may then show twice, never be skipped). Reads at most `limit` members and documents.
 */
const readPage = `
local generation = redis.call('HGET', KEYS[1], 'generation') or '1'
local index = ARGV[1] .. generation .. ARGV[2]
local min, max, limit, desc = ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6] == 'desc'
local start = 0
if desc then start = redis.call('ZCOUNT', index, '(' .. max, '+inf') else start = redis.call('ZCOUNT', index, '-inf', '(' .. min) end
if ARGV[8] ~= '' then
  local score = redis.call('ZSCORE', index, ARGV[8])
  local rank
  if desc then rank = redis.call('ZREVRANK', index, ARGV[8]) else rank = redis.call('ZRANK', index, ARGV[8]) end
  local after
  if rank and score and tonumber(score) == tonumber(ARGV[9]) then after = rank + 1
  elseif desc then after = redis.call('ZCOUNT', index, '(' .. ARGV[9], '+inf')
  else after = redis.call('ZCOUNT', index, '-inf', '(' .. ARGV[9]) end
  if after > start then start = after end
end
local members
if desc then members = redis.call('ZREVRANGE', index, start, start + limit - 1, 'WITHSCORES')
else members = redis.call('ZRANGE', index, start, start + limit - 1, 'WITHSCORES') end
local ids, scores = {}, {}
local low, high = tonumber(min) or -math.huge, tonumber(max) or math.huge
if min == '-inf' then low = -math.huge end
if max == '+inf' then high = math.huge end
for i = 1, #members, 2 do
  local s = tonumber(members[i + 1])
  if s < low or s > high then break end
  ids[#ids + 1] = members[i]
  scores[#scores + 1] = members[i + 1]
end
if #ids == 0 then return { {}, {}, {} } end
local keys = {}
for i, id in ipairs(ids) do keys[i] = ARGV[1] .. generation .. ARGV[7] .. id end
return { ids, scores, redis.call('MGET', unpack(keys)) }`;

/** A cursor is the last member of a page and its score, opaque to clients. */
const encodeCursor = (id: string, score: string) => Buffer.from(JSON.stringify([id, score])).toString('base64url');

/** The member and score a cursor names, or null if it is not one `page` gave out. */
export function decodeCursor(cursor: string): { id: string; score: string } | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString());
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string' && Number.isFinite(Number(value[1]))) {
      return { id: value[0], score: value[1] };
    }
  } catch {
    // not base64url JSON
  }
  return null;
}

export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';
  constructor() {
    super('not a cursor this query gave out');
  }
}

export interface IndexQuery {
  /** The key whose sorted set to read, for a keyed index (one whose entries are `{ key, score }`). */
  key?: string;
  /** Lowest and highest score, inclusive; unbounded when absent. */
  min?: number;
  max?: number;
  limit?: number;
  order?: 'asc' | 'desc';
}

/** The arguments `readIndex` and `readPage` begin with: where the documents are, the index, its score range, how many, which way. */
function indexRange(keys: ReturnType<typeof projectionKeys>, index: string, query: IndexQuery, limit: number): string[] {
  return [
    keys.documentParts[0],
    keys.indexSuffix(index, query.key),
    query.min === undefined ? '-inf' : String(query.min),
    query.max === undefined ? '+inf' : String(query.max),
    String(limit),
    query.order ?? 'asc',
  ];
}

/** Reads what the projector wrote: the active generation's documents and applied versions. */
export function createReadModels(redis: Redis, prefix: string) {
  return {
    /** Documents in a projection's index (under `query.key` for a keyed index), by score. */
    async list<P extends AnyProjection>(projection: P, index: keyof P['indexes'] & string, query: IndexQuery = {}): Promise<DocOf<P>[]> {
      const keys = projectionKeys(prefix, projection.name);
      const raw = (await redis.eval(readIndex, {
        keys: [keys.meta],
        arguments: [...indexRange(keys, index, query, query.limit ?? 100), keys.documentParts[1]],
      })) as (string | null)[];
      return raw.filter((doc): doc is string => doc !== null).map((doc) => JSON.parse(doc) as DocOf<P>);
    },

    /**
     * One page of documents in a projection's index (under `query.key` for a keyed index), by
     * score, after `query.cursor` (a previous page's `nextCursor`); at most `maxPageSize`.
     */
    async page<P extends AnyProjection>(projection: P, index: keyof P['indexes'] & string, query: IndexQuery & { cursor?: string } = {}): Promise<Page<DocOf<P>>> {
      const limit = Math.min(query.limit ?? 50, maxPageSize);
      const after = query.cursor === undefined ? null : decodeCursor(query.cursor);
      if (query.cursor !== undefined && after === null) throw new InvalidCursorError();
      const keys = projectionKeys(prefix, projection.name);
      const [ids, scores, docs] = (await redis.eval(readPage, {
        keys: [keys.meta],
        arguments: [...indexRange(keys, index, query, limit), keys.documentParts[1], after?.id ?? '', after?.score ?? '0'],
      })) as [string[], string[], (string | null)[]];
      const items = docs.filter((doc): doc is string => doc !== null).map((doc) => JSON.parse(doc) as DocOf<P>);
      const last = ids.length - 1;
      return { items, nextCursor: ids.length === limit ? encodeCursor(ids[last]!, scores[last]!) : null };
    },

    async get<P extends AnyProjection>(projection: P, id: string): Promise<DocOf<P> | null> {
      const keys = projectionKeys(prefix, projection.name);
      const [before, after] = keys.documentParts;
      const raw = (await redis.eval(readActive, { keys: [keys.meta], arguments: [before, after, id, 'string'] })) as string | null;
      return raw === null ? null : (JSON.parse(raw) as DocOf<P>);
    },

    /** The last version of an aggregate the projection has applied; 0 if none. */
    async appliedVersion(projection: AnyProjection, aggregateType: string, aggregateId: string): Promise<number> {
      const keys = projectionKeys(prefix, projection.name);
      const [before, after] = keys.versionsParts;
      const version = await redis.eval(readActive, { keys: [keys.meta], arguments: [before, after, aggregateKey(aggregateType, aggregateId), 'hash'] });
      return Number(version ?? 0);
    },
  };
}

export type ReadModels = ReturnType<typeof createReadModels>;

/** What the projector announces on the applied channel after each commit, and at a generation switch. */
export type AppliedNotice =
  | { projection: string; generation: number; versions: Record<string, number> }
  | { projection: string; generation: number; switched: true };

/** What a listener hears about one aggregate: a version applied in some generation, or a switch. */
type Heard = { version: number } | { switched: true };

/**
 * Read-your-writes and live updates: resolves once projections have applied an aggregate's
 * version, or streams its newly applied versions, woken by the projector's pub/sub notices
 * rather than by polling. A notice only wakes a waiter: what satisfies it is a read of the
 * active generation, the one queries read (a rebuild's generation announces its batches too).
 * `subscriber` is a connection of its own (a subscribed Redis connection takes no other
 * commands); it subscribes in the background, so the API starts while Redis is down.
 */
export function createVersionWaiter(subscriber: Redis, readModels: ReadModels, prefix: string, onError?: (error: unknown) => void) {
  type Listener = (heard: Heard) => void;
  /** projection → aggregate key → listeners */
  const listeners = new Map<string, Map<string, Set<Listener>>>();

  subscriber
    .subscribe(appliedChannel(prefix), (message) => {
      const notice = JSON.parse(message) as AppliedNotice;
      const byAggregate = listeners.get(notice.projection);
      if (!byAggregate) return;
      if ('switched' in notice) {
        for (const set of byAggregate.values()) for (const listener of set) listener({ switched: true });
        return;
      }
      for (const [key, version] of Object.entries(notice.versions)) {
        for (const listener of byAggregate.get(key) ?? []) listener({ version });
      }
    })
    .catch((error: unknown) => onError?.(error));

  /** Calls `listener` with what the projection announces for the aggregate; returns the unsubscribe. */
  function listen(projection: AnyProjection, aggregateType: string, aggregateId: string, listener: Listener): () => void {
    const key = aggregateKey(aggregateType, aggregateId);
    const byAggregate = listeners.get(projection.name) ?? new Map<string, Set<Listener>>();
    listeners.set(projection.name, byAggregate);
    const set = byAggregate.get(key) ?? new Set<Listener>();
    byAggregate.set(key, set.add(listener));
    return () => {
      set.delete(listener);
      if (set.size === 0 && byAggregate.get(key) === set) byAggregate.delete(key);
      if (byAggregate.size === 0 && listeners.get(projection.name) === byAggregate) listeners.delete(projection.name);
    };
  }

  async function waitOne(projection: AnyProjection, aggregateType: string, aggregateId: string, version: number, signal: AbortSignal) {
    let reached!: () => void;
    let failed!: (error: unknown) => void;
    const done = new Promise<void>((resolve, reject) => ((reached = resolve), (failed = reject)));
    let checking = false;
    let again = false;
    const check = async () => {
      if (checking) return void (again = true);
      checking = true;
      try {
        do {
          again = false;
          if ((await readModels.appliedVersion(projection, aggregateType, aggregateId)) >= version) return reached();
        } while (again);
      } catch (error) {
        failed(error);
      } finally {
        checking = false;
      }
    };
    // Listening before the first read, so a notice between the read and the wait is not missed.
    const stop = listen(projection, aggregateType, aggregateId, (heard) => {
      if ('switched' in heard || heard.version >= version) void check();
    });
    signal.addEventListener('abort', () => reached(), { once: true });
    try {
      await check();
      await done;
    } finally {
      stop();
    }
  }

  return {
    /** True once all projections' active generations reached the version; false when `timeoutMs` passed first. */
    async waitFor(projections: readonly AnyProjection[], aggregateType: string, aggregateId: string, version: number, timeoutMs: number) {
      const signal = AbortSignal.timeout(timeoutMs);
      await Promise.all(projections.map((p) => waitOne(p, aggregateType, aggregateId, version, signal)));
      return !signal.aborted;
    },

    /**
     * The aggregate's document each time the projection applies a newer version, and again after
     * a generation switch (a rebuild may have changed it), until `signal` aborts.
     */
    async *changes<P extends AnyProjection>(projection: P, aggregateType: string, id: string, since: number, signal: AbortSignal) {
      let wake = () => {};
      let latest = since;
      let switched = false;
      let heard = 0;
      const stop = listen(projection, aggregateType, id, (notice) => {
        if ('switched' in notice) switched = true;
        else latest = Math.max(latest, notice.version);
        heard += 1;
        wake();
      });
      const aborted = () => wake();
      signal.addEventListener('abort', aborted, { once: true });
      try {
        let sent = since;
        latest = Math.max(latest, await readModels.appliedVersion(projection, aggregateType, id));
        while (!signal.aborted) {
          const seen = heard;
          if (latest > sent || switched) {
            const resend = switched;
            switched = false;
            const doc = await readModels.get(projection, id);
            const version = (doc as { version?: number } | null)?.version ?? latest;
            if (doc !== null && (version > sent || resend)) {
              sent = Math.max(sent, version);
              yield { version, doc: doc as DocOf<P> };
              continue;
            }
          }
          // A notice heard while reading is looked at before sleeping.
          if (heard !== seen) continue;
          await new Promise<void>((resolve) => (wake = resolve));
        }
      } finally {
        stop();
        signal.removeEventListener('abort', aborted);
      }
    },
  };
}

export type VersionWaiter = ReturnType<typeof createVersionWaiter>;
