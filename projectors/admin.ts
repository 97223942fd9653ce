import type { AnyProjection } from '../core/projection';
import type { Redis } from '../infra/redis';
import type { ParkedEvent } from './apply';
import { projectionKeys } from './keys';
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
          const [raw, parked] = await Promise.all([redis.get(keys.status), redis.lLen(keys.parked(Number(meta.generation ?? 1)))]);
          if (raw) return { ...(JSON.parse(raw) as ProjectionStatus), parked };
          return stalledStatus(projection, parked, meta);
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

    /** Asks the owner to rebuild into a new generation from the start of the log. */
    async requestRebuild(name: string): Promise<void> {
      await redis.set(keysOf(name).rebuildRequested, new Date().toISOString());
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

function stalledStatus(projection: AnyProjection, parked: number, meta: Record<string, string>): ProjectionStatus {
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
    parked,
    rebuild: null,
    updatedAt: new Date().toISOString(),
  };
}
