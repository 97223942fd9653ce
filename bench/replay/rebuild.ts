/**
 * How fast the projection runtime replays the event log into Redis: the first catch-up of a
 * fresh projector, then a rebuild into a new generation. Rates are read off the generation's
 * checkpoint (polled every 20 ms), from its first committed batch to the last event, so the
 * status tick that notices a rebuild request is not counted; the wall time to the switch is.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { projectionsOf } from '../../core/app';
import shop from '../../examples/shop/ledgerflow.config';

const projections = projectionsOf(shop);
import type { Logger } from '../../infra/logger';
import type { EventTopology } from '../../infra/rabbit';
import type { Redis } from '../../infra/redis';
import { createProjectionAdmin } from '../../projectors/admin';
import { projectionKeys } from '../../projectors/keys';
import { startProjector } from '../../projectors/runtime';
import type { Connection } from 'rabbitmq-client';

export interface ReplayFigures {
  events: number;
  /** A fresh projector building generation 1 from the start of the log. */
  catchUpEventsPerSec: number;
  /** A rebuild into the next generation. */
  rebuildEventsPerSec: number;
  /** From the rebuild request until queries read the new generation. */
  rebuildWallSeconds: number;
  /** Events the rebuilt generation parked: anything but 0 means the rate is not a replay rate. */
  parked: number;
}

interface Deps {
  redis: Redis;
  projectorRedis: Redis;
  rabbit: Connection;
  topology: EventTopology;
  prefix: string;
  log: Logger;
}

const projection = 'carts';

/** Events per second a generation's checkpoint advanced from its first commit to `lastOffset`. */
async function replayRate(redis: Redis, checkpointKey: string, lastOffset: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let first: { at: number; offset: number } | undefined;
  for (;;) {
    const raw = await redis.get(checkpointKey);
    const now = performance.now();
    if (raw !== null) {
      const offset = Number(raw);
      first ??= { at: now, offset };
      if (offset >= lastOffset) {
        const seconds = (now - first.at) / 1000;
        return seconds > 0 ? Math.round((offset - first.offset) / seconds) : Infinity;
      }
    }
    if (Date.now() > deadline) throw new Error(`${checkpointKey} did not reach offset ${lastOffset} within ${timeoutMs / 1000} s (at ${raw})`);
    await sleep(20);
  }
}

/** Replays `events` already in the stream (offsets 0 .. events-1). */
export async function measureReplay(deps: Deps, events: number, timeoutMs = 300_000): Promise<ReplayFigures> {
  const keys = projectionKeys(deps.prefix, projection);
  const admin = createProjectionAdmin(deps.redis, deps.prefix, projections);
  const projector = startProjector(
    { redis: deps.projectorRedis, rabbit: deps.rabbit, topology: deps.topology, prefix: deps.prefix, log: deps.log },
    projections,
    { tickMs: 500 },
  );
  try {
    const catchUpEventsPerSec = await replayRate(deps.redis, keys.checkpoint(1), events - 1, timeoutMs);
    const live = Number((await deps.redis.hGet(keys.meta, 'generation')) ?? 1);
    const requested = performance.now();
    await admin.requestRebuild(projection);
    const rebuildEventsPerSec = await replayRate(deps.redis, keys.checkpoint(live + 1), events - 1, timeoutMs);
    while (Number((await deps.redis.hGet(keys.meta, 'generation')) ?? 1) <= live) await sleep(20);
    const rebuildWallSeconds = Math.round((performance.now() - requested) / 10) / 100;
    const parked = await deps.redis.lLen(keys.parked(live + 1));
    if (parked > 0) throw new Error(`the rebuild parked ${parked} of ${events} events (see the log): its rate would not be a replay rate`);
    return { events, catchUpEventsPerSec, rebuildEventsPerSec, rebuildWallSeconds, parked };
  } finally {
    await projector.stop();
  }
}
