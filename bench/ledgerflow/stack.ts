/**
 * What every Ledgerflow deployment of a run shares: a configuration whose task queue, exchange,
 * stream and Redis prefix are unique to the run, the topology declared, and the promise that
 * the queue, the exchange and every key are deleted at the end.
 */
import { loadConfig, type Config } from '../../core/config';
import { connectRabbit, declareTopology, topologyOf } from '../../infra/rabbit';
import { createRedis } from '../../infra/redis';
import { deleteKeys } from '../../test/support/stack';
import type { Cleanup } from '../support/cleanup';

export async function prepareLedgerflow(run: string, temporalAddress: string, apiPort: number, cleanup: Cleanup): Promise<Config> {
  const config = loadConfig({
    ...process.env,
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_TASK_QUEUE: `ledgerflow-${run}`,
    EVENTS_EXCHANGE: `ledgerflow.bench.${run}`,
    EVENTS_STREAM: `ledgerflow.bench.${run}.log`,
    EVENTS_RETENTION: undefined,
    REDIS_PREFIX: `lfbench:${run}`,
    API_PORT: String(apiPort),
    API_HOST: '127.0.0.1',
    API_TOKENS: undefined,
    LOG_LEVEL: 'warn',
  });
  const rabbit = connectRabbit(config, 'bench');
  const redis = createRedis(config.REDIS_URL, 'ledgerflow-bench');
  await redis.connect();
  cleanup.defer('ledgerflow queues, exchange and keys', async () => {
    await rabbit.queueDelete({ queue: config.EVENTS_STREAM }).catch(() => {});
    await rabbit.exchangeDelete({ exchange: config.EVENTS_EXCHANGE }).catch(() => {});
    await rabbit.close();
    await deleteKeys(redis, `${config.REDIS_PREFIX}:*`);
    await redis.quit();
  });
  await declareTopology(rabbit, topologyOf(config));
  return config;
}
