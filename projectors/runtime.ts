import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Connection } from 'rabbitmq-client';
import type { AnyProjection } from '../core/projection';
import type { Logger } from '../infra/logger';
import type { EventTopology } from '../infra/rabbit';
import type { Redis } from '../infra/redis';
import { applyEntries, type ApplyCounters, type LogEntry, type ParkedEvent } from './apply';
import { commitBatch, type CommitResult, type WriteTarget } from './commit';
import { appliedChannel, projectionKeys, type ProjectionKeys } from './keys';
import type { AppliedNotice } from './store';
import type { ProjectionStatus } from './status';
import { offsetOf, probeTail, sleep, subscribe, type Subscription } from './stream';
import { redisView } from './view';

export interface ProjectorDeps {
  /** A connection of the projector's own (batches are written with Lua scripts on it). */
  redis: Redis;
  rabbit: Connection;
  topology: EventTopology;
  prefix: string;
  log: Logger;
}

export interface ProjectorOptions {
  /** Most events applied in one Redis transaction. */
  batchSize?: number;
  /** Stream credit: deliveries in flight before acks. */
  prefetch?: number;
  /** Attempts of a throwing handler before its event is parked. */
  handlerAttempts?: number;
  /** How long an owner's lease lasts without renewal; a standby takes over after it. */
  leaseMs?: number;
  /** How often the owner renews its lease, checks requests and publishes its status. */
  tickMs?: number;
  /** Names this instance in leases and status. */
  instanceId?: string;
}

export interface Projector {
  readonly instanceId: string;
  /** This instance's view of each projection (the owner's is also in Redis). */
  status(): ProjectionStatus[];
  stop(): Promise<void>;
}

/**
 * Runs every projection: each is owned by one instance at a time through a lease in Redis,
 * consumed from its checkpoint in the event stream, and rebuilt into a new generation when its
 * definition's version changes, when asked to, or when Redis lost its data.
 */
export function startProjector(deps: ProjectorDeps, projections: readonly AnyProjection[], options: ProjectorOptions = {}): Projector {
  const instanceId = options.instanceId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const supervisors = projections.map((projection) => superviseProjection(deps, projection, { ...options, instanceId }));
  return {
    instanceId,
    status: () => supervisors.map((s) => s.status()),
    stop: async () => {
      await Promise.all(supervisors.map((s) => s.stop()));
    },
  };
}

interface Runner {
  generation: number;
  checkpoint: number | null;
  firstOffset: number | null;
  counters: ApplyCounters;
  subscription?: Subscription;
  stopped: boolean;
  oldestPendingAt: number | null;
  done: Promise<RunEnd>;
}

type RunEnd = Exclude<CommitResult, 'OK'> | 'STOPPED' | 'SWITCHED';

const renewScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

const switchScript = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'LEASE_LOST' end
if redis.call('HGET', KEYS[2], 'rebuilding') ~= ARGV[2] then return 'GENERATION_CHANGED' end
redis.call('HSET', KEYS[2], 'generation', ARGV[2], 'version', ARGV[3])
redis.call('HDEL', KEYS[2], 'rebuilding')
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 'OK'`;

function superviseProjection(deps: ProjectorDeps, projection: AnyProjection, options: ProjectorOptions & { instanceId: string }) {
  const { redis, rabbit, topology, prefix } = deps;
  const owner = options.instanceId;
  const log = deps.log.child({ projection: projection.name });
  const keys = projectionKeys(prefix, projection.name);
  const batchSize = options.batchSize ?? 500;
  const prefetch = options.prefetch ?? 1000;
  const attempts = options.handlerAttempts ?? 3;
  const leaseMs = options.leaseMs ?? 5000;
  const tickMs = options.tickMs ?? 1000;

  let stopped = false;
  let owning = false;
  /** A re-drive was asked for and has not been done yet. */
  let redrivePending = false;
  let live: Runner | undefined;
  let rebuild: (Runner & { startedAt: number; startOffset: number | null }) | undefined;
  let tail: number | null = null;
  let lastRate = { at: Date.now(), applied: 0, eventsPerSecond: 0 };
  const totals: ApplyCounters = { applied: 0, duplicatesSkipped: 0, gaps: 0, parked: 0 };

  /** Consumes one generation from its checkpoint until stopped, superseded, or caught up. */
  function runGeneration(target: WriteTarget, afterCommit?: (runner: Runner) => Promise<boolean>): Runner {
    const runner: Runner = {
      generation: target.generation,
      checkpoint: null,
      firstOffset: null,
      counters: { applied: 0, duplicatesSkipped: 0, gaps: 0, parked: 0 },
      stopped: false,
      oldestPendingAt: null,
      done: Promise.resolve('STOPPED'),
    };
    const view = redisView(redis, keys, target.generation);
    const onGap = (aggregate: string, expected: number, got: number) => log.warn({ aggregate, expected, got }, 'version gap: events missing from the log');
    const account = (counters: ApplyCounters) => {
      for (const k of Object.keys(counters) as (keyof ApplyCounters)[]) {
        runner.counters[k] += counters[k];
        totals[k] += counters[k];
      }
    };

    const commit = async (entries: LogEntry[], checkpoint: number, redriven?: { count: number; unblock: string[] }) => {
      const { batch, counters } = await applyEntries(projection, entries, view, { attempts, onGap, unblocked: new Set(redriven?.unblock) });
      const result = await commitBatch(redis, target, batch, { checkpoint, redriven });
      if (result === 'OK') account(counters);
      for (const parked of batch.parked) log.error({ parked }, 'event parked');
      return result;
    };

    const redriveParked = async (): Promise<CommitResult> => {
      const raw = await redis.lRange(keys.parked(target.generation), 0, -1);
      if (raw.length === 0) return 'OK';
      const items = raw.map((r) => JSON.parse(r) as ParkedEvent);
      const unblock = [...new Set(items.map((i) => i.aggregate).filter((a): a is string => a !== null))];
      log.info({ count: items.length }, 're-driving parked events');
      // The blocks are lifted for this batch only in memory; Redis lifts them in the same commit.
      return commit(items.map((i) => ({ offset: i.offset, body: i.event })), runner.checkpoint ?? -1, { count: raw.length, unblock });
    };

    runner.done = (async (): Promise<RunEnd> => {
      while (!runner.stopped && !stopped) {
        let subscription: Subscription | undefined;
        try {
          const stored = await redis.get(keys.checkpoint(target.generation));
          runner.checkpoint = stored === null ? null : Number(stored);
          const from = runner.checkpoint === null ? 'first' : runner.checkpoint + 1;
          subscription = await subscribe(rabbit, topology.stream, from, prefetch);
          runner.subscription = subscription;
          log.info({ from, generation: target.generation, role: target.guard === 'generation' ? 'live' : 'rebuild' }, 'consuming the event log');
          while (!runner.stopped && !stopped && subscription.active) {
            if (target.guard === 'generation' && redrivePending) {
              const result = await redriveParked();
              if (result !== 'OK') return result;
              redrivePending = false;
            }
            const messages = subscription.pending.splice(0, batchSize);
            runner.oldestPendingAt = null;
            if (messages.length === 0) {
              if (afterCommit && (await afterCommit(runner))) return 'SWITCHED';
              await Promise.race([subscription.next(), sleep(tickMs)]);
              continue;
            }
            const entries = messages
              .map((m) => ({ offset: offsetOf(m), body: m.body }))
              .filter((e) => runner.checkpoint === null || e.offset > runner.checkpoint);
            runner.firstOffset ??= entries[0]?.offset ?? null;
            if (entries.length > 0) {
              const checkpoint = entries[entries.length - 1]!.offset;
              const result = await commit(entries, checkpoint);
              if (result !== 'OK') return result;
              runner.checkpoint = checkpoint;
            }
            subscription.ack(messages[messages.length - 1]!);
            const next = subscription.pending[0];
            runner.oldestPendingAt = next ? Date.parse((next.body as { occurredAt?: string })?.occurredAt ?? '') || null : null;
            if (afterCommit && (await afterCommit(runner))) return 'SWITCHED';
          }
        } catch (error) {
          if (runner.stopped || stopped) break;
          log.warn({ err: error }, 'projection step failed; resuming from the checkpoint');
          await sleep(500);
        } finally {
          await subscription?.close();
        }
      }
      return 'STOPPED';
    })();
    return runner;
  }

  const liveTarget = (generation: number): WriteTarget => ({ keys, projection: projection.name, channel: appliedChannel(prefix), owner, generation, guard: 'generation' });

  /** Builds generation `generation` from the start of the log while the live one keeps serving. */
  async function startRebuild(reason: string) {
    if (rebuild || !live) return;
    const meta = await redis.hGetAll(keys.meta);
    const generation = Math.max(Number(meta.generation ?? 1), Number(meta.rebuilding ?? 0)) + 1;
    await dropGeneration(redis, keys, generation);
    await redis.hSet(keys.meta, 'rebuilding', String(generation));
    log.info({ generation, reason }, 'rebuilding into a new generation');
    const runner = runGeneration({ keys, projection: projection.name, channel: appliedChannel(prefix), owner, generation, guard: 'rebuilding' }, async (r) => {
      const serving = live!;
      const liveCheckpoint = await redis.get(keys.checkpoint(serving.generation));
      // With no live checkpoint yet, the stream's tail is the target, and it must be known.
      if (liveCheckpoint === null && tail === null) return false;
      const behind = (liveCheckpoint === null ? tail! : Number(liveCheckpoint)) - (r.checkpoint ?? -1);
      // Once close, pause the live model (reads keep being served from it): under steady load it
      // is always an event or two ahead, and a paused writer cannot race the switch.
      if (behind <= batchSize && !serving.stopped) {
        serving.stopped = true;
        serving.subscription?.interrupt();
        await serving.done;
        return false;
      }
      if (behind > 0) return false;
      // Waiters and subscribers hear of the switch in the same step: what they read changed.
      const notice = JSON.stringify({ projection: projection.name, generation, switched: true } satisfies AppliedNotice);
      const result = await redis.eval(switchScript, {
        keys: [keys.lease, keys.meta],
        arguments: [owner, String(generation), String(projection.version), appliedChannel(prefix), notice],
      });
      if (result !== 'OK') return false;
      log.info({ generation, previous: live!.generation, events: r.counters.applied }, 'rebuild caught up; switched generation');
      return true;
    });
    rebuild = Object.assign(runner, { startedAt: Date.now(), startOffset: null });
    void rebuild.done.then(async (end) => {
      const previous = live;
      rebuild = undefined;
      if (end !== 'SWITCHED' || !previous) return;
      previous.stopped = true;
      previous.subscription?.interrupt();
      await previous.done;
      if (stopped || !owning) return;
      live = runGeneration(liveTarget(generation));
      watchLive(live);
      await dropGeneration(redis, keys, previous.generation);
    }).catch((err: unknown) => log.warn({ err }, 'finishing the switch to the rebuilt generation failed (the old keys may stay behind)'));
  }

  function watchLive(runner: Runner) {
    void runner.done.then((end) => {
      if (end === 'LEASE_LOST' || end === 'GENERATION_CHANGED') {
        log.warn({ end }, 'live projection stopped; re-establishing ownership');
        owning = false;
      }
    });
  }

  /** Takes ownership: makes sure meta exists, starts the live runner, and a rebuild if due. */
  async function takeOwnership() {
    const created = await redis.hSetNX(keys.meta, 'generation', '1');
    if (created) await redis.hSet(keys.meta, 'version', String(projection.version));
    await redis.hDel(keys.meta, 'rebuilding');
    const meta = await redis.hGetAll(keys.meta);
    const generation = Number(meta.generation);
    live = runGeneration(liveTarget(generation));
    watchLive(live);
    if (Number(meta.version) !== projection.version) {
      await startRebuild(`definition version ${meta.version} → ${projection.version}`);
    }
  }

  async function releaseRunners() {
    for (const runner of [rebuild, live]) {
      if (!runner) continue;
      runner.stopped = true;
      runner.subscription?.interrupt();
    }
    await Promise.all([rebuild?.done, live?.done]);
    rebuild = undefined;
    live = undefined;
  }

  async function publishStatus(version: number) {
    try {
      tail = (await probeTail(rabbit, topology.stream)).offset;
    } catch {
      // Keep the last known tail while the broker is away.
    }
    const status = currentStatus(await redis.lLen(keys.parked(live?.generation ?? 1)), version);
    await redis.set(keys.status, JSON.stringify(status), { expiration: { type: 'PX', value: leaseMs * 2 } });
  }

  function currentStatus(parked = totals.parked, version = projection.version): ProjectionStatus {
    const now = Date.now();
    if (now - lastRate.at >= 1000) {
      lastRate = { at: now, applied: totals.applied, eventsPerSecond: ((totals.applied - lastRate.applied) * 1000) / (now - lastRate.at) };
    }
    const checkpoint = live?.checkpoint ?? null;
    const lagEvents = tail === null ? null : Math.max(0, tail - (checkpoint ?? -1));
    const rebuildStatus = rebuild
      ? (() => {
          const first = rebuild.firstOffset ?? 0;
          const done = rebuild.checkpoint === null ? 0 : rebuild.checkpoint - first + 1;
          const total = tail === null ? null : Math.max(done, tail - first + 1);
          const seconds = (now - rebuild.startedAt) / 1000;
          const rate = seconds > 0 ? rebuild.counters.applied / seconds : 0;
          const perOffset = seconds > 0 ? done / seconds : 0;
          return {
            generation: rebuild.generation,
            done,
            total,
            eventsPerSecond: Math.round(rate),
            etaSeconds: total === null || perOffset === 0 ? null : Math.round((total - done) / perOffset),
          };
        })()
      : null;
    return {
      name: projection.name,
      owner: owning ? owner : null,
      state: !owning ? 'standby' : rebuild ? 'rebuilding' : 'live',
      generation: live?.generation ?? null,
      version,
      checkpoint,
      tail,
      lagEvents,
      lagSeconds: live?.oldestPendingAt ? Math.max(0, (now - live.oldestPendingAt) / 1000) : 0,
      eventsPerSecond: Math.round(lastRate.eventsPerSecond),
      applied: totals.applied,
      duplicatesSkipped: totals.duplicatesSkipped,
      gaps: totals.gaps,
      parked,
      rebuild: rebuildStatus,
      updatedAt: new Date(now).toISOString(),
    };
  }

  const done = (async () => {
    while (!stopped) {
      try {
        if (!owning) {
          await releaseRunners();
          const acquired = await redis.set(keys.lease, owner, { condition: 'NX', expiration: { type: 'PX', value: leaseMs } });
          if (acquired !== 'OK') {
            await sleep(tickMs);
            continue;
          }
          owning = true;
          log.info({ owner }, 'took ownership of the projection');
          await takeOwnership();
        }
        await sleep(tickMs);
        if (stopped) break;
        const renewed = await redis.eval(renewScript, { keys: [keys.lease], arguments: [owner, String(leaseMs)] });
        if (Number(renewed) !== 1) {
          // Another instance owns it now, or Redis lost the lease (and maybe everything else).
          log.warn('lease lost; stopping and re-establishing ownership');
          owning = false;
          continue;
        }
        // A live runner stopped on its own (not paused for a rebuild's switch) lost its footing.
        if (!live || (live.stopped && !rebuild)) {
          owning = false;
          continue;
        }
        if (await redis.getDel(keys.rebuildRequested)) await startRebuild('requested');
        if (await redis.getDel(keys.redriveRequested)) {
          redrivePending = true; // whichever live runner runs next re-drives, even after a switch
          live.subscription?.interrupt();
        }
        // A version raised while ownership was being set up still gets its rebuild.
        const stored = await redis.hGet(keys.meta, 'version');
        if (!rebuild && Number(stored) !== projection.version) await startRebuild(`definition version → ${projection.version}`);
        await publishStatus(Number(stored ?? projection.version));
      } catch (error) {
        if (stopped) break;
        log.warn({ err: error }, 'projector supervision step failed; retrying');
        await sleep(Math.min(tickMs, 1000));
      }
    }
    await releaseRunners();
    if (owning) {
      await redis.eval(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1], KEYS[2]) end return 0`, {
        keys: [keys.lease, keys.status],
        arguments: [owner],
      }).catch(() => {});
    }
  })();

  return {
    status: () => currentStatus(),
    async stop() {
      stopped = true;
      live?.subscription?.interrupt();
      rebuild?.subscription?.interrupt();
      await done;
    },
  };
}

/** Deletes every key of one generation (documents, versions, checkpoint). */
export async function dropGeneration(redis: Redis, keys: ProjectionKeys, generation: number): Promise<void> {
  for (const pattern of keys.generationPatterns(generation)) {
    for await (const batch of redis.scanIterator({ MATCH: pattern, COUNT: 1000 })) {
      if (batch.length) await redis.unlink(batch);
    }
  }
}
