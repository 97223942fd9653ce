import type { AnyProjection } from '../core/projection';
import type { Redis } from '../infra/redis';
import type { ParkedEvent } from './apply';
import { projectionKeys } from './keys';
import { listGaps, type MissingHistory } from './rebuild';
import type { ProjectionStatus } from './status';

/**
 * What operators do to projections, through Redis so it reaches whichever instance owns them:
 * read status, list parked events, ask for a re-drive or a rebuild. Used by the CLI and the API.
 */
export function createProjectionAdmin(redis: Redis, prefix: string, projections: readonly AnyProjection[]) {
  const find = (name: string) => {
    const projection = projections.find((p) => p.name === name);
    if (!projection) throw new UnknownProjectionError(name, projections.map((p) => p.name));
    return projection;
  };
  const keysOf = (name: string) => projectionKeys(prefix, find(name).name);
  const liveGeneration = async (meta: string) => Number((await redis.hGet(meta, 'generation')) ?? 1);

  return {
    names: () => projections.map((p) => p.name),

    /** The owners' reports; a projection nobody reports on is "stalled". */
    async statuses(): Promise<ProjectionStatus[]> {
      return Promise.all(
        projections.map(async (projection) => {
          const keys = projectionKeys(prefix, projection.name);
          const meta = await redis.hGetAll(keys.meta);
          const generation = Number(meta.generation ?? 1);
          const [raw, parked, gapsOpen] = await Promise.all([redis.get(keys.status), redis.lLen(keys.parked(generation)), redis.hLen(keys.gaps(generation))]);
          if (raw) return { ...(JSON.parse(raw) as ProjectionStatus), parked, gapsOpen };
          return stalledStatus(projection, parked, gapsOpen, meta);
        }),
      );
    },

    /** The live generation's parked events. */
    async parked(name: string, limit = 100): Promise<ParkedEvent[]> {
      const keys = keysOf(name);
      const raw = await redis.lRange(keys.parked(await liveGeneration(keys.meta)), 0, limit - 1);
      return raw.map((r) => JSON.parse(r) as ParkedEvent);
    },

    /** Asks the owner to re-apply every parked event (after the handler was fixed). */
    async requestRedrive(name: string): Promise<{ parked: number }> {
      const keys = keysOf(name);
      await redis.set(keys.redriveRequested, new Date().toISOString());
      return { parked: await redis.lLen(keys.parked(await liveGeneration(keys.meta))) };
    },

    /**
     * Asks the owner to rebuild into a new generation from the start of the log. With
     * `acceptGaps`, the rebuild (this one, or one already held) switches even though the log
     * lacks some aggregates' history: they stay parked behind their gaps, out of the read model.
     */
    async requestRebuild(name: string, options: { acceptGaps?: boolean } = {}): Promise<void> {
      const keys = keysOf(name);
      if (options.acceptGaps) await redis.set(keys.acceptGaps, new Date().toISOString());
      await redis.set(keys.rebuildRequested, new Date().toISOString());
    },

    /**
     * Aggregates whose history the log lacks (their versions from `expected` to `got - 1`), at
     * most `limit`: in the live generation, or in the rebuild's while one runs (`of: 'rebuild'`).
     */
    async gaps(name: string, options: { of?: 'live' | 'rebuild'; limit?: number } = {}): Promise<MissingHistory[]> {
      const keys = keysOf(name);
      const meta = await redis.hGetAll(keys.meta);
      const generation = options.of === 'rebuild' ? meta.rebuilding : (meta.generation ?? '1');
      if (generation === undefined) return [];
      return listGaps(redis, keys.gaps(Number(generation)), options.limit ?? 100);
    },
  };
}

export type ProjectionAdmin = ReturnType<typeof createProjectionAdmin>;

export class UnknownProjectionError extends Error {
  override readonly name = 'UnknownProjectionError';
  constructor(name: string, known: string[]) {
    super(`no projection named '${name}' (known: ${known.join(', ')})`);
  }
}

function stalledStatus(projection: AnyProjection, parked: number, gapsOpen: number, meta: Record<string, string>): ProjectionStatus {
  return {
    name: projection.name,
    owner: null,
    state: 'stalled',
    generation: meta.generation ? Number(meta.generation) : null,
    version: meta.version ? Number(meta.version) : projection.version,
    checkpoint: null,
    tail: null,
    lagEvents: null,
    lagSeconds: 0,
    eventsPerSecond: 0,
    applied: 0,
    duplicatesSkipped: 0,
    gaps: 0,
    gapsOpen,
    parked,
    halted: null,
    trimmed: null,
    rebuild: null,
    updatedAt: new Date().toISOString(),
  };
}
