/** The HTTP API: tRPC at /trpc, GET /health and GET /metrics. */
import { startApiServer } from '../api/server';
import { loadConfig } from '../core/config';
import { createLogger } from '../infra/logger';

async function main() {
  const config = loadConfig();
  const log = createLogger('api', config.LOG_LEVEL);
  const api = await startApiServer(config, log);
  log.info({ url: `${api.url}/trpc` }, 'api listening');
  const stop = async () => {
    await api.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
