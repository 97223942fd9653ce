/**
 * Ledgerflow's API as a Fastify plugin: /trpc (tRPC's Fastify adapter), and beside it /health,
 * /metrics and /console. `startApiServer` serves it on a server of its own; an app registers it
 * on the Fastify server it already runs, under any prefix, with its own authentication.
 */
import type { TRPCRequestInfo } from '@trpc/server/http';
import { fastifyTRPCPlugin, type FastifyTRPCPluginOptions } from '@trpc/server/adapters/fastify';
import type { FastifyError, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { AnyAppConfig } from '../core/app';
import type { Logger } from '../infra/logger';
import { traceRequest } from '../infra/tracing';
import { bearerToken, isRefusal, refusals, roleRefusal } from './access';
import { consoleHeaders, readConsoleFiles } from './console/page';
import type { LedgerflowContext, RequestIdentity } from './context';
import { recentHealth } from './health';
import { admit, commandIdOf, type Admission } from './admission';
import { createApiMetrics, type ApiMetrics } from './metrics';
import { createRateLimiter } from './rate-limit';
import { createSubscriptionSlots } from './subscriptions';
import { createRouter, procedurePathsOf } from './router';
import type { ApiContext } from './trpc';

export interface LedgerflowFastifyOptions {
  /** The app's config: its modules' procedures (and `system.*`) are served at /trpc. */
  app: AnyAppConfig;
  /** What the procedures reach, from `createLedgerflowContext`. Close it after the server. */
  ledgerflow: LedgerflowContext;
  log: Logger;
  /**
   * The app's own authentication: who is asking. Ledgerflow first reads the bearer token (for a
   * subscription, also `connectionParams.token`) and `x-correlation-id`; what this returns
   * overrides them (`userId` reaches each command's metadata). Throw a TRPCError to refuse.
   */
  identify?: (request: FastifyRequest, info: TRPCRequestInfo) => RequestIdentity | Promise<RequestIdentity>;
  /** GET /health: the services' reachability, 503 while one is away or the server is closing (default true). */
  health?: boolean;
  /** GET /metrics: Prometheus, for a metrics or admin token (default true). */
  metrics?: boolean;
  /** GET /console: the projection console (default true). */
  console?: boolean;
}

/** Fastify's own refusals (before tRPC ran) by HTTP status, as tRPC codes, so every /trpc answer has one shape. */
const fastifyRefusals: Record<number, string> = {
  400: 'BAD_REQUEST',
  408: 'TIMEOUT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  503: 'SERVICE_UNAVAILABLE',
};

const trpcError = (message: string, code: string, httpStatus: number, more: Record<string, unknown> = {}) => ({ error: { message, data: { code, httpStatus, ...more } } });

/**
 * Registers /trpc, /health, /metrics and /console (under the registration's prefix). Bodies are
 * limited to API_MAX_BODY_BYTES. On the server's close(): new requests are refused 503 (retryable,
 * naming their commandId), those in flight finish, live subscriptions are ended (their clients
 * resume elsewhere from their lastEventId).
 */
export const ledgerflowFastify: FastifyPluginAsync<LedgerflowFastifyOptions> = async (instance, options) => {
  const { app, ledgerflow, log } = options;
  const base = ledgerflow.context();
  const { config } = base;
  const router = createRouter(app);
  const metrics = createApiMetrics({ admin: ledgerflow.admin, procedures: procedurePathsOf(router), commandsQueued: () => ledgerflow.bus.queued });

  /** Set when the server starts closing: new work is refused (503, retryable), work in flight finishes. */
  let draining = false;
  /** Replies being served on /trpc, so closing can end the live subscriptions among them. */
  const inFlight = new Set<FastifyReply>();
  instance.addHook('preClose', async () => {
    draining = true;
    // A live subscription never finishes by itself: end it now.
    for (const reply of inFlight) if (String(reply.getHeader('content-type') ?? '').includes('text/event-stream')) reply.raw.destroy();
  });
  instance.addHook('onSend', async (_request, reply) => {
    // No answer of the API is a script but the console's.
    reply.header('x-content-type-options', 'nosniff');
    // Each kept-alive connection is closed once its request in flight is answered.
    if (draining) reply.header('connection', 'close');
  });

  if (options.health !== false) {
    instance.get('/health', async (_request, reply) => {
      // A load balancer stops sending here once the API is draining.
      if (draining) return reply.code(503).send({ ok: false, draining: true });
      const report = await recentHealth(base);
      return reply.code(report.ok ? 200 : 503).send(report);
    });
  }

  if (options.metrics !== false) {
    instance.get('/metrics', async (request, reply) => {
      const found = await base.authenticate(bearerToken(request.headers.authorization));
      const refused = isRefusal(found) ? found : roleRefusal(found, 'metrics');
      if (refused) {
        const status = refusals[refused.code];
        if (refused.code === 'UNAUTHORIZED') reply.header('www-authenticate', 'Bearer');
        return reply.code(status).send(trpcError(refused.message, refused.code, status));
      }
      return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    });
  }

  if (options.console !== false) {
    for (const file of readConsoleFiles()) {
      instance.get(`/console${file.route}`, (_request, reply) => reply.headers(consoleHeaders).type(file.contentType).send(file.body));
    }
    instance.route({ method: ['POST', 'PUT', 'PATCH', 'DELETE'], url: '/console', handler: (_request, reply) => reply.code(405).header('allow', 'GET, HEAD').send({ error: 'GET only' }) });
  }

  await instance.register(async (trpc) => {
    trpcScope(trpc, { ledgerflow, log, identify: options.identify, router, metrics, inFlight, draining: () => draining });
  });
};

interface TrpcScope extends Pick<LedgerflowFastifyOptions, 'ledgerflow' | 'log' | 'identify'> {
  router: ReturnType<typeof createRouter>;
  metrics: ApiMetrics;
  inFlight: Set<FastifyReply>;
  draining: () => boolean;
}

/** /trpc in a scope of its own: its body limit, hooks and error answers apply to nothing else of the app's server. */
function trpcScope(trpc: FastifyInstance, { ledgerflow, log, identify, router, metrics, inFlight, draining }: TrpcScope) {
  const { config, authenticate } = ledgerflow.context();
  const procedureOf = (request: FastifyRequest) => (request.params as { path?: string }).path;

  // Fastify reads the body: one declaring more than the limit is answered 413 before a byte of it is read.
  trpc.addHook('onRoute', (route) => {
    route.bodyLimit ??= config.API_MAX_BODY_BYTES;
  });
  trpc.addHook('onRequest', async (request, reply) => {
    inFlight.add(reply);
    const stop = metrics.timeRequest(procedureOf(request));
    reply.raw.once('close', () => {
      inFlight.delete(reply);
      stop();
    });
  });
  // Before any of it runs: a batch over its cap, a caller over its rate, a subscription over its caps.
  const admission: Admission = {
    config,
    authenticate,
    limiter: createRateLimiter(ledgerflow.context().redis, { points: config.API_RATE_LIMIT, windowS: config.API_RATE_LIMIT_WINDOW_S, prefix: config.REDIS_PREFIX }),
    slots: createSubscriptionSlots({ perCaller: config.API_SUBSCRIPTIONS_PER_CALLER, total: config.API_SUBSCRIPTIONS_TOTAL }),
    isSubscription: (path) => (router._def.procedures as Record<string, { _def?: { type?: string } }>)[path]?._def?.type === 'subscription',
    refused: (path, code) => metrics.countRequest(path, code),
  };
  trpc.addHook('preHandler', (request, reply, next) => {
    if (draining()) return refuseWhileDraining(request, reply);
    traceRequest(request.raw, reply.raw, procedureOf(request) ?? '', next);
  });
  trpc.addHook('preHandler', (request, reply) => admit(request, reply, admission));

  function refuseWhileDraining(request: FastifyRequest, reply: FastifyReply) {
    // Named, so the sender resends it with the same commandId to another instance.
    const commandId = commandIdOf(request);
    metrics.countRequest(undefined, 'SERVICE_UNAVAILABLE');
    const message = 'the API is shutting down: send the command again (same commandId)';
    void reply
      .code(503)
      .header('retry-after', '1')
      .send(trpcError(message, 'SERVICE_UNAVAILABLE', 503, { retryable: true, commandId, domainCode: null }));
  }

  trpc.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500;
    const code = fastifyRefusals[status] ?? (status < 500 ? 'BAD_REQUEST' : 'INTERNAL_SERVER_ERROR');
    metrics.countRequest(undefined, code);
    // The path only: a subscription's query string may hold its token (connectionParams).
    if (status >= 500) log.error({ err: error, path: request.url.split('?')[0] }, 'request failed');
    let message = status >= 500 ? 'internal error' : error.message;
    if (status === 413) {
      const declared = request.headers['content-length'];
      message = `request body${declared ? ` of ${declared} bytes` : ''} exceeds the limit of ${config.API_MAX_BODY_BYTES}`;
      // Hang up rather than take the rest of it.
      reply.header('connection', 'close');
      reply.raw.once('finish', () => request.raw.socket.destroy());
    }
    return reply.code(status).send(trpcError(message, code, status));
  });

  const plugin: FastifyTRPCPluginOptions<typeof router> = {
    trpcOptions: {
      router,
      maxBodySize: config.API_MAX_BODY_BYTES,
      createContext: async ({ req, info }): Promise<ApiContext> => {
        // A browser's EventSource cannot send headers: subscriptions may carry the token in connectionParams.
        // (One that is not a string never gets here: admission refuses it, 401.)
        const connectionToken = info.type === 'subscription' ? (info.connectionParams?.token ?? null) : null;
        const correlationId = req.headers['x-correlation-id'];
        const identity: RequestIdentity = {
          token: bearerToken(req.headers.authorization) ?? connectionToken,
          correlationId: typeof correlationId === 'string' ? correlationId : null,
        };
        return ledgerflow.context({ ...identity, ...(await identify?.(req, info)) });
      },
      onError: ({ error, path, ctx }) => {
        if (error.code === 'INTERNAL_SERVER_ERROR') log.error({ path, correlationId: ctx?.correlationId ?? undefined, err: error.cause ?? error }, 'procedure failed');
      },
      responseMeta: ({ paths, errors }) => {
        for (const path of paths ?? [undefined]) metrics.countRequest(path, errors[0]?.code ?? 'OK');
        return {};
      },
    },
  };
  void trpc.register(fastifyTRPCPlugin, { prefix: '/trpc', ...plugin });
}
