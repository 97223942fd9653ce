import type { Redis } from '../infra/redis';
import type { ProjectionKeys } from './keys';
import type { GenerationView } from './working-set';

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
    async documents(ids) {
      const stored = await redis.mGet(ids.map((id) => keys.document(generation, id)));
      return stored.map((doc) => (doc === null ? null : JSON.parse(doc)));
    },
    async members(index, key, { order, limit }) {
      const members = await redis.zRangeWithScores(keys.index(generation, index, key), 0, limit === undefined ? -1 : limit - 1, { REV: order === 'desc' });
      return members.map(({ value, score }) => ({ id: String(value), score: Number(score) }));
    },
  };
}
