import { engineCodes } from '../core/errors';
import { readsFrom } from '../core/projection';
import type { Redis } from '../infra/redis';
import type { GapRecord } from './working-set';
import type { ProjectionContext } from './context';
import { consumeGeneration, stopRunner, type ConsumerHooks, type Runner } from './consumer';
import { appliedChannel, type ProjectionKeys } from './keys';
import type { AppliedNotice } from './store';

/**
 * Makes the rebuilt generation the active one, with its definition version, and tells waiters
 * and subscribers in the same step (what they read changed); only while this instance owns the
 * projection and the generation is still the one being rebuilt.
 */
const switchScript = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'LEASE_LOST' end
if redis.call('HGET', KEYS[2], 'rebuilding') ~= ARGV[2] then return 'GENERATION_CHANGED' end
redis.call('HSET', KEYS[2], 'generation', ARGV[2], 'version', ARGV[3])
redis.call('HDEL', KEYS[2], 'rebuilding')
redis.call('DEL', KEYS[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 'OK'`;

/**
 * A generation being built beside the live one. `held` while it has caught up but the log lacks
 * some aggregates' history: it does not switch until an operator accepts the gaps.
 */
export type Rebuild = Runner & { startedAt: number; held: { code: typeof engineCodes.REBUILD_HELD_FOR_GAPS; gaps: number } | null };

/** At most this many gaps are named in a log line (the rest are counted). */
const gapSample = 20;

/** What a rebuild needs from the projection's supervisor. */
export interface RebuildHost extends Pick<ConsumerHooks, 'running' | 'account'> {
  /** The live generation's runner, which keeps serving until the switch. */
  live(): Runner | undefined;
  /** The stream's newest offset as last probed; the target while nothing is live yet. */
  tail(): number | null;
  /** The rebuild ended, switched or not. */
  ended(): void;
  /** Starts consuming the switched-to generation as the live one; false if this instance no longer may. */
  promote(generation: number): boolean;
  /** Lets the live generation, paused for a switch that is not going to happen, consume again. */
  resumeLive(): void;
}

/**
 * Builds a new generation from the start of the log while the live one keeps serving, switches
 * the active generation atomically once it has caught up, then drops the old generation's keys.
 */
export async function startRebuild(ctx: ProjectionContext, host: RebuildHost, reason: string): Promise<Rebuild> {
  const { redis, keys, log } = ctx;
  const meta = await redis.hGetAll(keys.meta);
  const generation = Math.max(Number(meta.generation ?? 1), Number(meta.rebuilding ?? 0)) + 1;
  // Left over from a rebuild that never finished.
  await dropGeneration(redis, keys, generation);
  await redis.hSet(keys.meta, 'rebuilding', String(generation));
  log.info({ generation, reason }, 'rebuilding into a new generation');
  const target = { keys, projection: ctx.projection.name, channel: appliedChannel(ctx.prefix), owner: ctx.owner, generation, guard: 'rebuilding' as const };
  const runner = consumeGeneration(ctx, target, { running: host.running, account: host.account, afterCommit: () => catchUp(ctx, host, rebuild) });
  const rebuild: Rebuild = Object.assign(runner, { startedAt: Date.now(), held: null });
  void rebuild.done
    .then(async (end) => {
      const previous = host.live();
      host.ended();
      if (end !== 'SWITCHED' || !previous) return;
      await stopRunner(previous);
      if (!host.promote(generation)) return;
      await dropGeneration(redis, keys, previous.generation);
    })
    .catch((err: unknown) => log.warn({ err }, 'finishing the switch to the rebuilt generation failed (the old keys may stay behind)'));
  return rebuild;
}

/** Whether the rebuild has caught up with the live generation and switched to it. */
async function catchUp(ctx: ProjectionContext, host: RebuildHost, rebuild: Rebuild): Promise<boolean> {
  const { redis, keys, projection, log } = ctx;
  const serving = host.live()!;
  const liveCheckpoint = await redis.get(keys.checkpoint(serving.generation));
  // With no live checkpoint yet, the stream's tail is the target, and it must be known.
  const tail = host.tail();
  if (liveCheckpoint === null && tail === null) return false;
  const behind = (liveCheckpoint === null ? tail! : Number(liveCheckpoint)) - (rebuild.checkpoint ?? -1);
  if (behind > ctx.batchSize) return false;
  // Level with the live generation: what it applied and the rebuild never saw is missing history
  // too. Compared again whenever the rebuild moved, and once more with the live one paused.
  const level = `${rebuild.checkpoint}:${serving.stopped}`;
  if (behind <= 0 && comparedAt.get(rebuild) !== level) {
    comparedAt.set(rebuild, level);
    await recordVanished(ctx, serving.generation, rebuild.generation);
  }
  // Close enough to switch: not over missing history unless an operator said so.
  if (await heldForGaps(ctx, rebuild)) {
    host.resumeLive();
    return false;
  }
  // Once close, pause the live model (reads keep being served from it): under steady load it
  // is always an event or two ahead, and a paused writer cannot race the switch.
  if (!serving.stopped) {
    await stopRunner(serving);
    return false;
  }
  if (behind > 0 || comparedAt.get(rebuild) !== level) return false;
  const notice = JSON.stringify({ projection: projection.name, generation: rebuild.generation, switched: true } satisfies AppliedNotice);
  const result = await redis.eval(switchScript, {
    keys: [keys.lease, keys.meta, keys.acceptGaps],
    arguments: [ctx.owner, String(rebuild.generation), String(projection.version), appliedChannel(ctx.prefix), notice],
  });
  if (result !== 'OK') return false;
  log.info({ generation: rebuild.generation, previous: serving.generation, events: rebuild.counters.applied }, 'rebuild caught up; switched generation');
  return true;
}

/**
 * True while the rebuilt generation has aggregates whose history the log lacks and nobody
 * accepted that: the rebuild keeps following the log (a republished event may still fill a gap)
 * and the live generation keeps serving. Accepted, it switches with those aggregates parked
 * behind their gaps, absent from the read model, and says so.
 */
async function heldForGaps(ctx: ProjectionContext, rebuild: Rebuild): Promise<boolean> {
  const { redis, keys, log } = ctx;
  const gaps = await redis.hLen(keys.gaps(rebuild.generation));
  if (gaps === 0) {
    rebuild.held = null;
    return false;
  }
  const accepted = (await redis.get(keys.acceptGaps)) !== null;
  if (!rebuild.held || accepted) {
    const missing = await listGaps(redis, keys.gaps(rebuild.generation), gapSample);
    if (accepted) log.warn({ gaps, missing }, 'switching with gaps accepted: these aggregates stay parked behind their gaps, absent from the read model');
    else log.error({ gaps, missing, code: engineCodes.REBUILD_HELD_FOR_GAPS }, 'rebuild held: the log lacks these aggregates\' history; rebuild with --accept-gaps to switch without it');
  }
  if (accepted) return false;
  rebuild.held = { code: engineCodes.REBUILD_HELD_FOR_GAPS, gaps };
  return true;
}

/** Where each rebuild was last compared with the live generation (its checkpoint, and whether the live one was paused). */
const comparedAt = new WeakMap<Rebuild, string>();

/**
 * Aggregates the live generation applied that the rebuilt one never saw (retention trimmed all
 * their events) are missing history too: recorded as gaps of the rebuild (offset -1: no event of
 * theirs is left), so they hold the switch like any other. One pass over the live versions, 500
 * at a time.
 */
async function recordVanished(ctx: ProjectionContext, live: number, rebuilt: number): Promise<void> {
  const { redis, keys } = ctx;
  // Records of an earlier comparison the rebuild has since caught up with (it applied the aggregate).
  for await (const entries of redis.hScanIterator(keys.gaps(rebuilt), { COUNT: 500 })) {
    const earlier = entries.filter(({ value }) => (JSON.parse(value) as GapRecord).offset < 0).map(({ field }) => field);
    if (earlier.length === 0) continue;
    const versions = await redis.hmGet(keys.versions(rebuilt), earlier);
    const seen = earlier.filter((_, i) => versions[i] !== null);
    if (seen.length) await redis.hDel(keys.gaps(rebuilt), seen);
  }
  for await (const entries of redis.hScanIterator(keys.versions(live), { COUNT: 500 })) {
    // Only aggregates of sources the projection still reads (a new version may have dropped one).
    const read = entries.filter(({ field }) => readsFrom(ctx.projection, field.slice(0, field.indexOf(':'))));
    if (read.length === 0) continue;
    const fields = read.map((e) => e.field);
    const [versions, gaps, blocked] = await Promise.all([
      redis.hmGet(keys.versions(rebuilt), fields),
      redis.hmGet(keys.gaps(rebuilt), fields),
      redis.smIsMember(keys.blocked(rebuilt), fields),
    ]);
    const vanished = read.filter((_, i) => versions[i] === null && gaps[i] === null && Number(blocked[i]) !== 1);
    if (vanished.length === 0) continue;
    const records = vanished.map(({ field, value }) => [field, JSON.stringify({ expected: 1, got: Number(value) + 1, offset: -1 } satisfies GapRecord)]);
    await redis.hSet(keys.gaps(rebuilt), Object.fromEntries(records));
  }
}

/** An aggregate whose versions from `expected` to `got - 1` the log lacks. */
export interface MissingHistory extends GapRecord {
  aggregate: string;
}

/** Up to `limit` of a generation's open gaps, in one bounded pass of HSCAN calls. */
export async function listGaps(redis: Redis, key: string, limit: number): Promise<MissingHistory[]> {
  const found: MissingHistory[] = [];
  for await (const entries of redis.hScanIterator(key, { COUNT: Math.min(limit, 500) })) {
    for (const { field, value } of entries) {
      if (found.length < limit) found.push({ aggregate: field, ...(JSON.parse(value) as GapRecord) });
    }
    if (found.length >= limit) break;
  }
  return found;
}

/** Deletes every key of one generation (documents, indexes, versions, checkpoint, parked). */
export async function dropGeneration(redis: Redis, keys: ProjectionKeys, generation: number): Promise<void> {
  for (const pattern of keys.generationPatterns(generation)) {
    for await (const batch of redis.scanIterator({ MATCH: pattern, COUNT: 1000 })) {
      if (batch.length) await redis.unlink(batch);
    }
  }
}
