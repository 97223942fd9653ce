/** The projector: keeps every read model of the app in Redis up to date from the event log. */
import { projectionsOf } from '../core/app';
import { loadConfig } from '../core/config';
import { loadApp } from '../infra/app-loader';
import { createLogger } from '../infra/logger';
import { createProjectorMetrics, processRegistry } from '../infra/metrics';
import { startOpsServer } from '../infra/ops-server';
import { startTracing } from '../infra/tracing-sdk';
import { stopTracing } from '../infra/tracing';
import { connectRabbit, declareTopology, topologyOf } from '../infra/rabbit';
import { closeRedis, createRedis } from '../infra/redis';
import { startProjector } from '../projectors/runtime';
import { onShutdown, runMain } from './main';

/** The process as `ledgerflow projector` runs it: settings from the environment, the app from LEDGERFLOW_CONFIG. */
export async function main() {
  const config = loadConfig();
  const projections = projectionsOf((await loadApp(process.env.LEDGERFLOW_CONFIG)).config);
  const log = createLogger('projector', config.LOG_LEVEL);
  startTracing('ledgerflow-projector');
  const redis = createRedis(config.REDIS_URL, 'ledgerflow-projector', log);
  await redis.connect();
  const rabbit = connectRabbit(config, 'projector', log);
  const topology = topologyOf(config);
  await declareTopology(rabbit, topology);
  const registry = processRegistry();
  const metrics = createProjectorMetrics(registry);
  const projector = startProjector({ redis, rabbit, topology, prefix: config.REDIS_PREFIX, log, metrics }, projections);
  let stopping = false;
  metrics.follow(() =>
    projector.status().map((s) => ({ name: s.name, owned: s.owner !== null, lagEvents: s.lagEvents, lagSeconds: s.lagSeconds, rebuilding: s.state === 'rebuilding' })),
  );
  const ops = await startOpsServer({
    port: config.PROJECTOR_METRICS_PORT,
    host: config.METRICS_HOST,
    registry,
    ready: () => ({ running: !stopping, redis: redis.isReady, rabbitmq: rabbit.ready }),
    log,
  });
  log.info({ projections: projections.map((p) => p.name), stream: topology.stream, metrics: `${ops.url}/metrics` }, 'projector started');
  onShutdown(async () => {
    stopping = true;
    await projector.stop();
    await ops.close();
    await stopTracing();
    await Promise.allSettled([closeRedis(redis), rabbit.close()]);
  });
}

if (require.main === module) runMain(main, 'projector');
