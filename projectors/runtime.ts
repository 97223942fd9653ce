import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { AnyProjection } from '../core/projection';
import { projectionContext, type ProjectionContext, type ProjectorDeps, type ProjectorOptions } from './context';
import { consumeGeneration, type Runner } from './consumer';
import { appliedChannel } from './keys';
import { projectionLease } from './lease';
import { startRebuild, type Rebuild } from './rebuild';
import { createStatusReporter, type ProjectionStatus } from './status';
import { sleep } from '../infra/deadline';
import { followTail } from './stream';

export type { ProjectorDeps, ProjectorOptions } from './context';

/** Deletes a key only while it holds the given value. */
const deleteIfScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
export { dropGeneration } from './rebuild';

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
  // One consumer per process follows the stream's tail for every projection's lag and progress.
  const tail = followTail(deps.rabbit, deps.topology.stream, { consumerTag: `ledgerflow.tail.${instanceId}` });
  const supervisors = projections.map((projection) => superviseProjection(projectionContext(deps, projection, { ...options, instanceId, streamTail: tail.offset })));
  return {
    instanceId,
    status: () => supervisors.map((s) => s.status()),
    stop: async () => {
      await Promise.all(supervisors.map((s) => s.stop()));
      await tail.close();
    },
  };
}

/**
 * One projection's supervisor: takes and keeps the lease, runs the live generation, and each
 * tick acts on what operators asked for (rebuild, re-drive) and publishes the status.
 */
function superviseProjection(ctx: ProjectionContext) {
  const { redis, keys, projection, log, tickMs } = ctx;
  const lease = projectionLease(ctx);
  const reporter = createStatusReporter(ctx);
  const state = { owning: false, live: undefined as Runner | undefined, rebuild: undefined as Rebuild | undefined };
  let stopped = false;
  /**
   * The re-drive request being acted on (the value of its key), or null. The key stays in Redis
   * until the re-drive is done, so one cut short by a crash is taken up by the next owner.
   */
  let redriveRequest: string | null = null;
  const running = () => !stopped;
  const redrive = {
    due: () => redriveRequest !== null,
    async request(reason: string) {
      redriveRequest = `${new Date().toISOString()} ${reason}`;
      await redis.set(keys.redriveRequested, redriveRequest);
    },
    async done() {
      const finished = redriveRequest;
      redriveRequest = null;
      // A request made while this one ran has another value, and stays for the next tick.
      if (finished !== null) await redis.eval(deleteIfScript, { keys: [keys.redriveRequested], arguments: [finished] });
    },
  };

  /** Consumes `generation` as the live one; a run that ends on a lost lease or generation gives ownership up. */
  function startLive(generation: number) {
    const target = { keys, projection: projection.name, channel: appliedChannel(ctx.prefix), owner: ctx.owner, generation, guard: 'generation' as const };
    state.live = consumeGeneration(ctx, target, {
      running,
      account: reporter.account,
      // Whichever live runner runs next re-drives, even after a switch.
      redrive,
    });
    void state.live.done.then((end) => {
      if (end === 'LEASE_LOST' || end === 'GENERATION_CHANGED') {
        log.warn({ end }, 'live projection stopped; re-establishing ownership');
        state.owning = false;
      }
    });
  }

  async function beginRebuild(reason: string) {
    if (state.rebuild || !state.live) return;
    state.rebuild = await startRebuild(ctx, {
      running,
      account: reporter.account,
      live: () => state.live,
      tail: ctx.streamTail,
      ended: () => void (state.rebuild = undefined),
      promote(generation) {
        if (stopped || !state.owning) return false;
        startLive(generation);
        return true;
      },
      resumeLive() {
        if (!stopped && state.owning && state.live?.stopped) startLive(state.live.generation);
      },
    }, reason);
  }

  /** Takes ownership: makes sure meta exists, starts the live runner, and a rebuild if due. */
  async function takeOwnership() {
    const created = await redis.hSetNX(keys.meta, 'generation', '1');
    if (created) await redis.hSet(keys.meta, 'version', String(projection.version));
    await redis.hDel(keys.meta, 'rebuilding');
    const meta = await redis.hGetAll(keys.meta);
    startLive(Number(meta.generation));
    if (Number(meta.version) !== projection.version) await beginRebuild(`definition version ${meta.version} → ${projection.version}`);
  }

  async function releaseRunners() {
    const runners = [state.rebuild, state.live];
    for (const runner of runners) {
      if (!runner) continue;
      runner.stopped = true;
      runner.subscription?.interrupt();
    }
    await Promise.all(runners.map((runner) => runner?.done));
    state.rebuild = undefined;
    state.live = undefined;
  }

  /** One tick as owner: keep the lease, check the live runner, act on requests, publish status. */
  async function tick() {
    if (!(await lease.renew())) {
      log.warn('lease lost; stopping and re-establishing ownership');
      state.owning = false;
      return;
    }
    // A live runner stopped on its own (not paused for a rebuild's switch) lost its footing.
    if (!state.live || (state.live.stopped && !state.rebuild)) {
      state.owning = false;
      return;
    }
    if (await redis.getDel(keys.rebuildRequested)) await beginRebuild('requested');
    const asked = redriveRequest === null ? await redis.get(keys.redriveRequested) : null;
    if (asked !== null) {
      redriveRequest = asked;
      state.live.subscription?.interrupt();
    }
    // A version raised while ownership was being set up still gets its rebuild.
    const stored = await redis.hGet(keys.meta, 'version');
    if (!state.rebuild && Number(stored) !== projection.version) await beginRebuild(`definition version → ${projection.version}`);
    await reporter.publish(state, Number(stored ?? projection.version));
  }

  const done = (async () => {
    while (!stopped) {
      try {
        if (!state.owning) {
          await releaseRunners();
          if (!(await lease.acquire())) {
            await sleep(tickMs);
            continue;
          }
          state.owning = true;
          log.info({ owner: ctx.owner }, 'took ownership of the projection');
          await takeOwnership();
        }
        await sleep(tickMs);
        if (stopped) break;
        await tick();
      } catch (error) {
        if (stopped) break;
        log.warn({ err: error }, 'projector supervision step failed; retrying');
        await sleep(Math.min(tickMs, 1000));
      }
    }
    await releaseRunners();
    if (state.owning) await lease.release();
  })();

  return {
    status: () => reporter.current(state),
    async stop() {
      stopped = true;
      state.live?.subscription?.interrupt();
      state.rebuild?.subscription?.interrupt();
      await done;
    },
  };
}
