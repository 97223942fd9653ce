/** The HTTP API: tRPC at /trpc, GET /health and GET /metrics. */
import { startApiServer } from '../api/server';
import { loadConfig } from '../core/config';
import { createLogger } from '../infra/logger';
import { onShutdown, runMain } from './main';

async function main() {
  const config = loadConfig();
  const log = createLogger('api', config.LOG_LEVEL);
  const api = await startApiServer(config, log);
  log.info({ url: `${api.url}/trpc` }, 'api listening');
  onShutdown(() => api.close());
}

runMain(main, 'api');
