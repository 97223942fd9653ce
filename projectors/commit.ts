import type { Redis } from '../infra/redis';
import type { AppliedBatch } from './apply';
import type { ProjectionKeys } from './keys';
import type { AppliedNotice } from './store';

/**
 * Writes one batch atomically, and only while this instance still owns the projection and the
 * generation it writes is still the one expected: documents, index entries (a move removes the
 * old one), per-aggregate versions, parked events, blocked aggregates, the checkpoint, and the
 * pub/sub notice, in one Lua script.
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

export interface WriteTarget {
  keys: ProjectionKeys;
  /** The projection's name, for the notice. */
  projection: string;
  /** Where commit notices are published (`appliedChannel`). */
  channel: string;
  owner: string;
  generation: number;
  /** The meta field that must still hold `generation`: 'generation' when live, 'rebuilding' for a rebuild. */
  guard: 'generation' | 'rebuilding';
}

/** Where the batch leaves the consumer: its checkpoint, and for a re-drive what it took off the parked list. */
export interface CommitPosition {
  checkpoint: number;
  /** Re-drive: how many parked entries (from the head) this batch re-applied, and whose block it lifts. */
  redriven?: { count: number; unblock: string[] };
}

export async function commitBatch(redis: Redis, target: WriteTarget, batch: AppliedBatch, position: CommitPosition): Promise<CommitResult> {
  const { keys, owner, generation, guard } = target;
  const documentKeys = [...batch.documents.keys()].map((id) => keys.document(generation, id));
  const indexKeys = batch.indexes.map((write) => keys.index(generation, write.index, write.key));
  const dataKeys = [...new Set([...documentKeys, ...indexKeys])];
  const base = [keys.lease, keys.meta, keys.checkpoint(generation), keys.versions(generation), keys.parked(generation), keys.blocked(generation)];
  const slot = new Map(dataKeys.map((key, i) => [key, base.length + i + 1]));
  const notice: AppliedNotice | null = batch.versions.size
    ? { projection: target.projection, generation, versions: Object.fromEntries(batch.versions) }
    : null;
  const payload = {
    set: [] as [number, string][],
    del: [] as number[],
    versions: [...batch.versions].map(([key, version]) => [key, String(version)]),
    parked: batch.parked.map((item) => JSON.stringify(item)),
    blocked: batch.blocked,
    indexed: [] as [number, string, number][],
    unindexed: [] as [number, string][],
    trim: position.redriven?.count ?? 0,
    unblock: position.redriven?.unblock ?? [],
    channel: target.channel,
    notice: notice ? JSON.stringify(notice) : '',
  };
  [...batch.documents.values()].forEach((doc, i) => {
    if (doc === null) payload.del.push(slot.get(documentKeys[i]!)!);
    else payload.set.push([slot.get(documentKeys[i]!)!, JSON.stringify(doc)]);
  });
  batch.indexes.forEach(({ id, score }, i) => {
    if (score === null) payload.unindexed.push([slot.get(indexKeys[i]!)!, id]);
    else payload.indexed.push([slot.get(indexKeys[i]!)!, id, score]);
  });
  const result = await redis.eval(commitScript, {
    keys: [...base, ...dataKeys],
    arguments: [owner, guard, String(generation), String(position.checkpoint), JSON.stringify(payload)],
  });
  return result as CommitResult;
}
