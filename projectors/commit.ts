import type { Redis } from '../infra/redis';
import type { ProjectionKeys } from './keys';

/**
 * Writes one batch atomically, and only while this instance still owns the projection and the
 * generation it writes is still the one expected: documents, per-aggregate versions, parked
 * events, blocked aggregates, the checkpoint, and the pub/sub notice, in one Lua script.
 */
const commitScript = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'LEASE_LOST' end
if redis.call('HGET', KEYS[2], ARGV[2]) ~= ARGV[3] then return 'GENERATION_CHANGED' end
local batch = cjson.decode(ARGV[5])
if batch.trim > 0 then redis.call('LTRIM', KEYS[5], batch.trim, -1) end
for _, member in ipairs(batch.unblock) do redis.call('SREM', KEYS[6], member) end
for _, doc in ipairs(batch.set) do redis.call('SET', KEYS[doc[1]], doc[2]) end
for _, index in ipairs(batch.del) do redis.call('DEL', KEYS[index]) end
for _, pair in ipairs(batch.versions) do redis.call('HSET', KEYS[4], pair[1], pair[2]) end
for _, entry in ipairs(batch.indexed) do redis.call('ZADD', KEYS[entry[1]], entry[3], entry[2]) end
for _, entry in ipairs(batch.unindexed) do redis.call('ZREM', KEYS[entry[1]], entry[2]) end
for _, item in ipairs(batch.parked) do redis.call('RPUSH', KEYS[5], item) end
for _, member in ipairs(batch.blocked) do redis.call('SADD', KEYS[6], member) end
redis.call('SET', KEYS[3], ARGV[4])
if batch.notice ~= '' then redis.call('PUBLISH', batch.channel, batch.notice) end
return 'OK'
`;

export type CommitResult = 'OK' | 'LEASE_LOST' | 'GENERATION_CHANGED';

export interface Batch {
  /** Document key → JSON, or null to delete. */
  documents: Map<string, string | null>;
  versions: Map<string, number>;
  /** Index entries: [index key, document id, score or null to remove]. */
  indexes: [string, string, number | null][];
  parked: string[];
  blocked: string[];
  /** Re-drive: how many parked entries (from the head) this batch re-applied, and whose block it lifts. */
  redriven?: { count: number; unblock: string[] };
  checkpoint: number;
  channel: string;
  notice: string;
}

export interface WriteTarget {
  keys: ProjectionKeys;
  owner: string;
  generation: number;
  /** The meta field that must still hold `generation`: 'generation' when live, 'rebuilding' for a rebuild. */
  guard: 'generation' | 'rebuilding';
}

export async function commitBatch(redis: Redis, target: WriteTarget, batch: Batch): Promise<CommitResult> {
  const { keys, owner, generation, guard } = target;
  const indexKeys = [...new Set(batch.indexes.map(([key]) => key))];
  const docKeys = [...batch.documents.keys(), ...indexKeys];
  const base = [keys.lease, keys.meta, keys.checkpoint(generation), keys.versions(generation), keys.parked(generation), keys.blocked(generation)];
  const payload = {
    set: [] as [number, string][],
    del: [] as number[],
    versions: [...batch.versions].map(([key, version]) => [key, String(version)]),
    parked: batch.parked,
    blocked: batch.blocked,
    indexed: [] as [number, string, number][],
    unindexed: [] as [number, string][],
    trim: batch.redriven?.count ?? 0,
    unblock: batch.redriven?.unblock ?? [],
    channel: batch.channel,
    notice: batch.notice,
  };
  const position = (key: string) => base.length + docKeys.indexOf(key) + 1;
  for (const [key, value] of batch.documents) {
    if (value === null) payload.del.push(position(key));
    else payload.set.push([position(key), value]);
  }
  for (const [key, id, score] of batch.indexes) {
    if (score === null) payload.unindexed.push([position(key), id]);
    else payload.indexed.push([position(key), id, score]);
  }
  const result = await redis.eval(commitScript, {
    keys: [...base, ...docKeys],
    arguments: [owner, guard, String(generation), String(batch.checkpoint), JSON.stringify(payload)],
  });
  return result as CommitResult;
}
