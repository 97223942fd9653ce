/** The projector: keeps every registered read model in Redis up to date from the event log. */
import { loadConfig } from '../core/config';
import { projections } from '../domain';
import { createLogger } from '../infra/logger';
import { connectRabbit, declareTopology, topologyOf } from '../infra/rabbit';
import { createRedis } from '../infra/redis';
import { startProjector } from '../projectors/runtime';

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
  const stop = async () => {
    await projector.stop();
    await Promise.allSettled([redis.quit(), rabbit.close()]);
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
