/** The HTTP API: tRPC at /trpc, GET /health and GET /metrics. */
import { startApiServer } from '../api/server';
import { loadConfig } from '../core/config';
import { createLogger } from '../infra/logger';
import { startTracing } from '../infra/tracing-sdk';
import { stopTracing } from '../infra/tracing';
import { onShutdown, runMain } from './main';

async function main() {
  const config = loadConfig();
  const log = createLogger('api', config.LOG_LEVEL);
  const traced = startTracing('ledgerflow-api');
  const api = await startApiServer(config, log);
  log.info({ url: `${api.url}/trpc`, traced }, 'api listening');
  onShutdown(async () => {
    await api.close();
    await stopTracing();
  });
}

runMain(main, 'api');
