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

export interface IndexQuery {
  /** Lowest and highest score, inclusive; unbounded when absent. */
  min?: number;
  max?: number;
  limit?: number;
  order?: 'asc' | 'desc';
}

/** Reads what the projector wrote: the active generation's documents and applied versions. */
export function createReadModels(redis: Redis, prefix: string) {
  return {
    /** Documents in a projection's index, by score. */
    async list<P extends AnyProjection>(projection: P, index: keyof P['indexes'] & string, query: IndexQuery = {}): Promise<DocOf<P>[]> {
      const keys = projectionKeys(prefix, projection.name);
      const [before, after] = keys.documentParts;
      const raw = (await redis.eval(readIndex, {
        keys: [keys.meta],
        arguments: [
          before,
          keys.indexSuffix(index),
          query.min === undefined ? '-inf' : String(query.min),
          query.max === undefined ? '+inf' : String(query.max),
          String(query.limit ?? 100),
          query.order ?? 'asc',
          after,
        ],
      })) as (string | null)[];
      return raw.filter((doc): doc is string => doc !== null).map((doc) => JSON.parse(doc) as DocOf<P>);
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

/**
 * Read-your-writes and live updates: resolves once projections have applied an aggregate's
 * version, or streams its newly applied versions, woken by the projector's pub/sub notices
 * rather than by polling. `subscriber` is a connection of its own (a subscribed Redis
 * connection takes no other commands).
 */
export async function createVersionWaiter(subscriber: Redis, readModels: ReadModels, prefix: string) {
  type Listener = (version: number) => void;
  const listeners = new Map<string, Set<Listener>>();
  const slot = (projection: string, key: string) => `${projection}|${key}`;

  await subscriber.subscribe(appliedChannel(prefix), (message) => {
    const notice = JSON.parse(message) as { projection: string; versions: Record<string, number> };
    for (const [key, version] of Object.entries(notice.versions)) {
      for (const listener of listeners.get(slot(notice.projection, key)) ?? []) listener(version);
    }
  });

  /** Calls `listener` with each version the projection applies for the aggregate; returns the unsubscribe. */
  function listen(projection: AnyProjection, aggregateType: string, aggregateId: string, listener: Listener): () => void {
    const name = slot(projection.name, aggregateKey(aggregateType, aggregateId));
    const set = listeners.get(name) ?? new Set();
    listeners.set(name, set.add(listener));
    return () => {
      set.delete(listener);
      if (set.size === 0 && listeners.get(name) === set) listeners.delete(name);
    };
  }

  async function waitOne(projection: AnyProjection, aggregateType: string, aggregateId: string, version: number, signal: AbortSignal) {
    let reached!: () => void;
    const done = new Promise<void>((resolve) => (reached = resolve));
    const stop = listen(projection, aggregateType, aggregateId, (applied) => applied >= version && reached());
    signal.addEventListener('abort', () => reached(), { once: true });
    try {
      // Listening before reading, so a notice between the read and the wait is not missed.
      if ((await readModels.appliedVersion(projection, aggregateType, aggregateId)) >= version) return;
      await done;
    } finally {
      stop();
    }
  }

  return {
    /** True once all projections reached the version; false when `timeoutMs` passed first. */
    async waitFor(projections: readonly AnyProjection[], aggregateType: string, aggregateId: string, version: number, timeoutMs: number) {
      const signal = AbortSignal.timeout(timeoutMs);
      await Promise.all(projections.map((p) => waitOne(p, aggregateType, aggregateId, version, signal)));
      return !signal.aborted;
    },

    /** The aggregate's document each time the projection applies a newer version, until `signal` aborts. */
    async *changes<P extends AnyProjection>(projection: P, aggregateType: string, id: string, since: number, signal: AbortSignal) {
      let wake = () => {};
      let latest = since;
      const stop = listen(projection, aggregateType, id, (version) => {
        latest = Math.max(latest, version);
        wake();
      });
      const aborted = () => wake();
      signal.addEventListener('abort', aborted, { once: true });
      try {
        let sent = since;
        latest = Math.max(latest, await readModels.appliedVersion(projection, aggregateType, id));
        while (!signal.aborted) {
          if (latest > sent) {
            const doc = await readModels.get(projection, id);
            const version = (doc as { version?: number } | null)?.version ?? latest;
            if (doc !== null && version > sent) {
              sent = version;
              yield { version, doc: doc as DocOf<P> };
              continue;
            }
          }
          await new Promise<void>((resolve) => (wake = resolve));
        }
      } finally {
        stop();
        signal.removeEventListener('abort', aborted);
      }
    },
  };
}

export type VersionWaiter = Awaited<ReturnType<typeof createVersionWaiter>>;
