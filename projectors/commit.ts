import type { Redis } from '../infra/redis';
import type { AppliedBatch } from './apply';
import type { ProjectionKeys } from './keys';
import type { AppliedNotice } from './store';

/**
 * Writes one batch atomically, and only while this instance still owns the projection and the
 * generation it writes is still the one expected: documents, index entries (a move removes the
 * old one), per-aggregate versions, parked events, blocked aggregates, the checkpoint, and the
 * pub/sub notice, in one Lua script. Documents travel as arguments of their own (not inside the
 * JSON header), so Redis does not decode them twice, and are written with MSET in chunks.
 */
const commitScript = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'LEASE_LOST' end
if redis.call('HGET', KEYS[2], ARGV[2]) ~= ARGV[3] then return 'GENERATION_CHANGED' end
local batch = cjson.decode(ARGV[5])
if #batch.parked > 0 and redis.call('LLEN', KEYS[5]) - batch.trim + #batch.parked > batch.maxParked then return 'PARKED_LIST_FULL' end
local base = 8
local chunk = 500
if batch.trim > 0 then redis.call('LTRIM', KEYS[5], batch.trim, -1) end
for _, member in ipairs(batch.unblock) do
  redis.call('SREM', KEYS[6], member)
  redis.call('HDEL', KEYS[7], member)
end
for first = 1, batch.set, chunk do
  local pairs = {}
  for i = first, math.min(first + chunk - 1, batch.set) do
    pairs[#pairs + 1] = KEYS[base + i]
    pairs[#pairs + 1] = ARGV[5 + i]
  end
  redis.call('MSET', unpack(pairs))
end
for i = 1, batch.del do redis.call('DEL', KEYS[base + batch.set + i]) end
for first = 1, #batch.versions, chunk do
  local fields = {}
  for i = first, math.min(first + chunk - 1, #batch.versions) do
    fields[#fields + 1] = batch.versions[i][1]
    fields[#fields + 1] = batch.versions[i][2]
  end
  redis.call('HSET', KEYS[4], unpack(fields))
end
for _, entry in ipairs(batch.indexed) do redis.call('ZADD', KEYS[entry[1]], entry[3], entry[2]) end
for _, entry in ipairs(batch.unindexed) do redis.call('ZREM', KEYS[entry[1]], entry[2]) end
for _, item in ipairs(batch.parked) do redis.call('RPUSH', KEYS[5], item) end
for _, member in ipairs(batch.blocked) do redis.call('SADD', KEYS[6], member) end
for _, gap in ipairs(batch.gaps) do redis.call('HSET', KEYS[7], gap[1], gap[2]) end
if batch.fanOut.aggregate ~= '' then
  if batch.fanOut.progress == '' then redis.call('HDEL', KEYS[8], batch.fanOut.aggregate)
  else redis.call('HSET', KEYS[8], batch.fanOut.aggregate, batch.fanOut.progress) end
end
redis.call('SET', KEYS[3], ARGV[4])
if batch.notice ~= '' then redis.call('PUBLISH', batch.channel, batch.notice) end
return 'OK'
`;

/**
 * 'PARKED_LIST_FULL': the batch would park events beyond the projection's bound (`maxParked`);
 * nothing was written, and the consumer stops until a re-drive makes room (never drops one).
 */
export type CommitResult = 'OK' | 'LEASE_LOST' | 'GENERATION_CHANGED' | 'PARKED_LIST_FULL';

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
  /** Re-drive: how many parked entries (from the head) this batch re-applied, and whose block (and gap) it lifts. */
  redriven?: { count: number; unblock: string[] };
  /** A fan-out's progress for its aggregate: documents done so far, or null once it is complete. */
  fanOut?: { aggregate: string; progress: FanOutProgress | null };
  /** Most parked events the generation may hold (unbounded when absent). */
  maxParked?: number;
}

/** How far a fan-out event got: the documents of its index done (by rank), for a resume after a crash. */
export interface FanOutProgress {
  version: number;
  done: number;
}

export async function commitBatch(redis: Redis, target: WriteTarget, batch: AppliedBatch, position: CommitPosition): Promise<CommitResult> {
  const { keys, owner, generation, guard } = target;
  // Keys in the order the script reads them: the fixed ones, documents to set, to delete, index sets.
  const written = [...batch.documents].filter(([, doc]) => doc !== null);
  const deleted = [...batch.documents].filter(([, doc]) => doc === null);
  const indexKeys = [...new Set(batch.indexes.map((write) => keys.index(generation, write.index, write.key)))];
  const base = [
    keys.lease,
    keys.meta,
    keys.checkpoint(generation),
    keys.versions(generation),
    keys.parked(generation),
    keys.blocked(generation),
    keys.gaps(generation),
    keys.fanOuts(generation),
  ];
  const firstIndexSlot = base.length + written.length + deleted.length + 1;
  const indexSlot = new Map(indexKeys.map((key, i) => [key, firstIndexSlot + i]));
  const notice: AppliedNotice | null = batch.versions.size
    ? { projection: target.projection, generation, versions: Object.fromEntries(batch.versions) }
    : null;
  const header = {
    set: written.length,
    del: deleted.length,
    versions: [...batch.versions].map(([key, version]) => [key, String(version)]),
    parked: batch.parked.map((item) => JSON.stringify(item)),
    blocked: batch.blocked,
    indexed: [] as [number, string, number][],
    unindexed: [] as [number, string][],
    gaps: [...batch.gaps].map(([aggregate, gap]) => [aggregate, JSON.stringify(gap)]),
    fanOut: { aggregate: position.fanOut?.aggregate ?? '', progress: position.fanOut?.progress ? JSON.stringify(position.fanOut.progress) : '' },
    maxParked: position.maxParked ?? Number.MAX_SAFE_INTEGER,
    trim: position.redriven?.count ?? 0,
    unblock: position.redriven?.unblock ?? [],
    channel: target.channel,
    notice: notice ? JSON.stringify(notice) : '',
  };
  for (const { index, key, id, score } of batch.indexes) {
    const slot = indexSlot.get(keys.index(generation, index, key))!;
    if (score === null) header.unindexed.push([slot, id]);
    else header.indexed.push([slot, id, score]);
  }
  const result = await redis.eval(commitScript, {
    keys: [...base, ...written.map(([id]) => keys.document(generation, id)), ...deleted.map(([id]) => keys.document(generation, id)), ...indexKeys],
    arguments: [owner, guard, String(generation), String(position.checkpoint), JSON.stringify(header), ...written.map(([, doc]) => JSON.stringify(doc))],
  });
  return result as CommitResult;
}
