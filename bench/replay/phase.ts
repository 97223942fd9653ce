/**
 * The replay phase: seeds a log of the run's own, times the projector's catch-up and rebuild,
 * then raw pipelined writes of the same keys, and deletes the stream, exchange and keys after.
 */
import { loadConfig } from '../../core/config';
import { createLogger } from '../../infra/logger';
import { connectRabbit, declareTopology, topologyOf } from '../../infra/rabbit';
import { createRedis } from '../../infra/redis';
import { deleteKeys } from '../../test/support/stack';
import type { Cleanup } from '../support/cleanup';
import { measureRedisCeiling, type RedisCeilingFigures } from './redis-ceiling';
import { measureReplay, type ReplayFigures } from './rebuild';
import { seedLog } from './seed';

export interface ReplayPhaseFigures {
  replay: ReplayFigures;
  redis: RedisCeilingFigures;
  /** Rebuild events/s over raw-write events/s. */
  ratioReplayToRedis: number | null;
}

export async function measureReplayPhase(run: string, events: number, cleanup: Cleanup, progress = console.log): Promise<ReplayPhaseFigures> {
  const config = loadConfig({
    ...process.env,
    EVENTS_EXCHANGE: `ledgerflow.bench.${run}.replay`,
    EVENTS_STREAM: `ledgerflow.bench.${run}.replay.log`,
    EVENTS_RETENTION: undefined,
    REDIS_PREFIX: `lfbench:${run}:replay`,
    LOG_LEVEL: 'warn',
  });
  const log = createLogger('bench-replay', 'warn');
  const topology = topologyOf(config);
  const rabbit = connectRabbit(config, 'bench-replay', log);
  const redis = createRedis(config.REDIS_URL, 'ledgerflow-bench-replay', log);
  const projectorRedis = createRedis(config.REDIS_URL, 'ledgerflow-bench-replay-projector', log);
  cleanup.defer('replay stream, exchange and keys', async () => {
    await rabbit.queueDelete({ queue: topology.stream }).catch(() => {});
    await rabbit.exchangeDelete({ exchange: topology.exchange }).catch(() => {});
    await rabbit.close();
    if (redis.isOpen) await deleteKeys(redis, `${config.REDIS_PREFIX}:*`);
    await Promise.allSettled([redis.quit(), projectorRedis.quit()]);
  });
  await Promise.all([redis.connect(), projectorRedis.connect()]);
  await declareTopology(rabbit, topology);

  const occurredAt = new Date().toISOString();
  progress(`  seeding ${events} events into ${topology.stream}...`);
  await seedLog(rabbit, topology, events, occurredAt);
  const replay = await measureReplay({ redis, projectorRedis, rabbit, topology, prefix: config.REDIS_PREFIX, log }, events);
  progress(`  replay: catch-up ${replay.catchUpEventsPerSec} events/s, rebuild ${replay.rebuildEventsPerSec} events/s (${replay.rebuildWallSeconds} s to the switch)`);
  const raw = await measureRedisCeiling(redis, config.REDIS_PREFIX, events, occurredAt);
  progress(`  redis ceiling: ${raw.eventsPerSec} events/s (${raw.opsPerSec} commands/s, pipelined)`);
  return {
    replay,
    redis: raw,
    ratioReplayToRedis: raw.eventsPerSec > 0 ? Math.round((replay.rebuildEventsPerSec / raw.eventsPerSec) * 100) / 100 : null,
  };
}
