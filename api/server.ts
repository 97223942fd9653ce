import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import type { Config } from '../core/config';
import type { AnyProjection } from '../core/projection';
import type { Logger } from '../infra/logger';
import { connectRabbit } from '../infra/rabbit';
import { createRedis } from '../infra/redis';
import { connectTemporal } from '../infra/temporal';
import { projections } from '../domain';
import { createProjectionAdmin } from '../projectors/admin';
import { createReadModels, createVersionWaiter } from '../projectors/store';
import { createCommandBus } from './commands';
import { checkHealth } from './health';
import { createApiMetrics } from './metrics';
import { appRouter } from './router';
import type { ApiContext } from './trpc';

export interface ApiServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

const header = (req: IncomingMessage, name: string) => {
  const value = req.headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? null;
};

/** Connects to Temporal, Redis and RabbitMQ and serves /trpc, /health and /metrics. */
export interface ApiServerOptions {
  /** Projections the admin procedures and metrics cover (the registry's by default). */
  projections?: readonly AnyProjection[];
}

export async function startApiServer(config: Config, log: Logger, options: ApiServerOptions = {}): Promise<ApiServer> {
  const temporal = await connectTemporal(config);
  const redis = createRedis(config.REDIS_URL, 'ledgerflow-api', log, { failFast: true });
  const subscriber = createRedis(config.REDIS_URL, 'ledgerflow-api-subscriber', log);
  await Promise.all([redis.connect(), subscriber.connect()]);
  const rabbit = connectRabbit(config, 'api', log);
  const readModels = createReadModels(redis, config.REDIS_PREFIX);
  const waiter = await createVersionWaiter(subscriber, readModels, config.REDIS_PREFIX);
  const bus = createCommandBus(temporal, config.TEMPORAL_TASK_QUEUE);
  const admin = createProjectionAdmin(redis, config.REDIS_PREFIX, options.projections ?? projections);
  const metrics = createApiMetrics(admin);

  const base = { temporal, bus, readModels, waiter, admin, redis, rabbit, config };
  const trpc = createHTTPHandler({
    router: appRouter,
    basePath: '/trpc/',
    createContext: ({ req }): ApiContext => {
      const auth = header(req, 'authorization');
      return {
        ...base,
        token: auth?.startsWith('Bearer ') ? auth.slice(7).trim() : null,
        correlationId: header(req, 'x-correlation-id'),
        userId: null,
      };
    },
    onError: ({ error, path }) => {
      if (error.code === 'INTERNAL_SERVER_ERROR') log.error({ path, error: error.cause ?? error }, 'procedure failed');
    },
    responseMeta: ({ paths, errors }) => {
      for (const path of paths ?? ['unknown']) metrics.requests.inc({ path, code: errors[0]?.code ?? 'OK' });
      return {};
    },
  });

  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health') {
      const report = await checkHealth(base);
      res.writeHead(report.ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(report));
    } else if (path === '/metrics') {
      res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(await metrics.registry.metrics());
    } else if (path?.startsWith('/trpc/')) {
      const stop = metrics.duration.startTimer({ path: path.slice(6) });
      res.once('finish', () => stop());
      trpc(req, res);
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found', see: ['/trpc', '/health', '/metrics'] }));
    }
  });

  const open = config.API_TOKENS.length === 0;
  const host = config.API_HOST ?? (open ? '127.0.0.1' : '0.0.0.0');
  if (open && !['127.0.0.1', 'localhost', '::1'].includes(host)) {
    throw new Error(`API_HOST=${host} needs API_TOKENS: without tokens the API listens on 127.0.0.1 only`);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.API_PORT, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  if (open) {
    log.warn({ host }, 'API_TOKENS is not set: no authentication, listening on 127.0.0.1 only (local development)');
  }

  return {
    server,
    url,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await Promise.allSettled([redis.quit(), subscriber.quit(), rabbit.close(), temporal.connection.close()]);
    },
  };
}
