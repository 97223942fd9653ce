import type { Redis } from '../infra/redis';
import type { ProjectionKeys } from './keys';
import type { GapRecord, GenerationView } from './working-set';

/** Most documents one MGET reads. */
export const readChunk = 500;

/**
 * The apply step's view of one generation in Redis. Only its owner writes the generation, and
 * only between these reads and its next commit, so the reads need no transaction of their own.
 */
export function redisView(redis: Redis, keys: ProjectionKeys, generation: number): GenerationView {
  return {
    async versions(aggregates) {
      const stored = await redis.hmGet(keys.versions(generation), [...aggregates]);
      return stored.map((version) => Number(version ?? 0));
    },
    async blocked(aggregates) {
      const flags = await redis.smIsMember(keys.blocked(generation), [...aggregates]);
      return flags.map((flag) => Number(flag) === 1);
    },
    async gaps(aggregates) {
      const stored = await redis.hmGet(keys.gaps(generation), [...aggregates]);
      return stored.map((gap) => (gap === null ? null : (JSON.parse(gap) as GapRecord)));
    },
    async documents(ids) {
      // In chunks, so a long read (a fan-out's documents) never holds Redis for one big MGET.
      const stored: (string | null)[] = [];
      for (let first = 0; first < ids.length; first += readChunk) {
        stored.push(...(await redis.mGet(ids.slice(first, first + readChunk).map((id) => keys.document(generation, id)))));
      }
      return stored.map((doc) => (doc === null ? null : JSON.parse(doc)));
    },
    async members(index, key, { order, limit, start = 0 }) {
      const members = await redis.zRangeWithScores(keys.index(generation, index, key), start, limit === undefined ? -1 : start + limit - 1, { REV: order === 'desc' });
      return members.map(({ value, score }) => ({ id: String(value), score: Number(score) }));
    },
  };
}
