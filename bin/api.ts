/** The HTTP API: tRPC at /trpc, GET /health and GET /metrics. */
import { startApiServer } from '../api/server';
import { loadConfig } from '../core/config';
import { loadApp } from '../infra/app-loader';
import { createLogger } from '../infra/logger';
import { startTracing } from '../infra/tracing-sdk';
import { stopTracing } from '../infra/tracing';
import { onShutdown, runMain } from './main';

/** The process as `ledgerflow api` runs it: settings from the environment, the app from LEDGERFLOW_CONFIG. */
export async function main() {
  const config = loadConfig();
  const log = createLogger('api', config.LOG_LEVEL);
  const traced = startTracing('ledgerflow-api');
  const app = await loadApp(process.env.LEDGERFLOW_CONFIG);
  const api = await startApiServer(app.config, config, log);
  log.info({ url: `${api.url}/trpc`, traced }, 'api listening');
  onShutdown(async () => {
    await api.close();
    await stopTracing();
  });
}

if (require.main === module) runMain(main, 'api');
