/** The projector: keeps every registered read model in Redis up to date from the event log. */
import { loadConfig } from '../core/config';
import { projections } from '../domain';
import { createLogger } from '../infra/logger';
import { connectRabbit, declareTopology, topologyOf } from '../infra/rabbit';
import { closeRedis, createRedis } from '../infra/redis';
import { startProjector } from '../projectors/runtime';
import { onShutdown, runMain } from './main';

async function main() {
  const config = loadConfig();
  const log = createLogger('projector', config.LOG_LEVEL);
  const redis = createRedis(config.REDIS_URL, 'ledgerflow-projector', log);
  await redis.connect();
  const rabbit = connectRabbit(config, 'projector', log);
  const topology = topologyOf(config);
  await declareTopology(rabbit, topology);
  const projector = startProjector({ redis, rabbit, topology, prefix: config.REDIS_PREFIX, log }, projections);
  log.info({ projections: projections.map((p) => p.name), stream: topology.stream }, 'projector started');
  onShutdown(async () => {
    await projector.stop();
    await Promise.allSettled([closeRedis(redis), rabbit.close()]);
  });
}

runMain(main, 'projector');
