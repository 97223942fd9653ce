import type { AnyProjection, DocOf } from '../core/projection';
import type { Redis } from '../infra/redis';
import { aggregateKey, appliedChannel, projectionKeys } from './keys';

/** Reads what the projector wrote: the active generation's documents and applied versions. */
export function createReadModels(redis: Redis, prefix: string) {
  const generationOf = async (projection: AnyProjection) =>
    Number((await redis.hGet(projectionKeys(prefix, projection.name).meta, 'generation')) ?? 1);

  return {
    async get<P extends AnyProjection>(projection: P, id: string): Promise<DocOf<P> | null> {
      const keys = projectionKeys(prefix, projection.name);
      const raw = await redis.get(keys.document(await generationOf(projection), id));
      return raw === null ? null : (JSON.parse(raw) as DocOf<P>);
    },

    /** The last version of an aggregate the projection has applied; 0 if none. */
    async appliedVersion(projection: AnyProjection, aggregateType: string, aggregateId: string): Promise<number> {
      const keys = projectionKeys(prefix, projection.name);
      const version = await redis.hGet(keys.versions(await generationOf(projection)), aggregateKey(aggregateType, aggregateId));
      return Number(version ?? 0);
    },
  };
}

export type ReadModels = ReturnType<typeof createReadModels>;

/**
 * Read-your-writes: resolves once every given projection has applied an aggregate's version,
 * woken by the projector's pub/sub notices rather than by polling. `subscriber` is a
 * connection of its own (a subscribed Redis connection takes no other commands).
 */
export async function createVersionWaiter(subscriber: Redis, readModels: ReadModels, prefix: string) {
  type Waiter = { version: number; resolve: () => void };
  const waiters = new Map<string, Set<Waiter>>();
  const slot = (projection: string, key: string) => `${projection}|${key}`;

  await subscriber.subscribe(appliedChannel(prefix), (message) => {
    const notice = JSON.parse(message) as { projection: string; versions: Record<string, number> };
    for (const [key, version] of Object.entries(notice.versions)) {
      const set = waiters.get(slot(notice.projection, key));
      for (const waiter of set ?? []) if (version >= waiter.version) waiter.resolve();
    }
  });

  async function waitOne(projection: AnyProjection, aggregateType: string, aggregateId: string, version: number, signal: AbortSignal) {
    const name = slot(projection.name, aggregateKey(aggregateType, aggregateId));
    let waiter!: Waiter;
    const reached = new Promise<void>((resolve) => (waiter = { version, resolve }));
    const set = waiters.get(name) ?? new Set();
    waiters.set(name, set.add(waiter));
    const cleanup = () => {
      set.delete(waiter);
      if (set.size === 0 && waiters.get(name) === set) waiters.delete(name);
    };
    signal.addEventListener('abort', () => waiter.resolve(), { once: true });
    try {
      // Subscribed before reading, so a notice between the read and the wait is not missed.
      if ((await readModels.appliedVersion(projection, aggregateType, aggregateId)) >= version) return;
      await reached;
    } finally {
      cleanup();
    }
  }

  return {
    /** True once all projections reached the version; false when `timeoutMs` passed first. */
    async waitFor(projections: readonly AnyProjection[], aggregateType: string, aggregateId: string, version: number, timeoutMs: number) {
      const signal = AbortSignal.timeout(timeoutMs);
      await Promise.all(projections.map((p) => waitOne(p, aggregateType, aggregateId, version, signal)));
      return !signal.aborted;
    },
  };
}

export type VersionWaiter = Awaited<ReturnType<typeof createVersionWaiter>>;
