import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import type { AnyAppConfig } from '../core/app';
import type { Config } from '../core/config';
import type { AnyProjection } from '../core/projection';
import type { Logger } from '../infra/logger';
import { traceRequest } from '../infra/tracing';
import { bearerToken, refusal, refusals, type Access } from './access';
import { consolePage } from './console';
import { createLedgerflowContext } from './context';
import { createCors } from './cors';
import { checkHealth } from './health';
import { createApiMetrics } from './metrics';
import { createRouter, procedurePathsOf } from './router';
import type { ApiContext } from './trpc';

export interface ApiServer {
  server: Server;
  url: string;
  /** Stops taking requests, lets those in flight finish (up to `graceMs`), then disconnects. */
  close(graceMs?: number): Promise<void>;
}

const header = (req: IncomingMessage, name: string) => {
  const value = req.headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? null;
};

export interface ApiServerOptions {
  /** Projections the admin procedures and metrics cover (the app's by default). */
  projections?: readonly AnyProjection[];
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

/**
 * Connects to Temporal, Redis and RabbitMQ and serves /trpc, /health, /metrics and /console.
 * Starts without waiting for any service: commands need only Temporal (whose connection opens
 * on first use), queries only Redis (whose clients reconnect by themselves); a service that is
 * away answers 503 until it is back.
 */
export async function startApiServer(app: AnyAppConfig, config: Config, log: Logger, options: ApiServerOptions = {}): Promise<ApiServer> {
  // Refused before any connection is opened, so a refusal leaves nothing running.
  const open = config.API_TOKENS.length === 0;
  const host = config.API_HOST ?? (open ? '127.0.0.1' : '0.0.0.0');
  if (open && !['127.0.0.1', 'localhost', '::1'].includes(host)) {
    throw new Error(`API_HOST=${host} needs API_TOKENS: without tokens the API listens on 127.0.0.1 only`);
  }
  const ledgerflow = createLedgerflowContext(app, config, log, options);
  const { bus, admin } = ledgerflow;
  const base = ledgerflow.context();
  const appRouter = createRouter(app);
  const metrics = createApiMetrics({ admin, procedures: procedurePathsOf(appRouter), commandsQueued: () => bus.queued });

  const trpc = createHTTPHandler({
    router: appRouter,
    basePath: '/trpc/',
    // Bodies sent without a content-length are cut off here (those with one, before tRPC).
    maxBodySize: config.API_MAX_BODY_BYTES,
    createContext: ({ req, info }): ApiContext => {
      // A browser's EventSource cannot send headers: subscriptions may carry the token in connectionParams.
      const connectionToken = info.type === 'subscription' ? (info.connectionParams?.token ?? null) : null;
      return ledgerflow.context({ token: bearerToken(header(req, 'authorization')) ?? connectionToken, correlationId: header(req, 'x-correlation-id') });
    },
    onError: ({ error, path, ctx }) => {
      if (error.code === 'INTERNAL_SERVER_ERROR') log.error({ path, correlationId: ctx?.correlationId ?? undefined, err: error.cause ?? error }, 'procedure failed');
    },
    responseMeta: ({ paths, errors }) => {
      for (const path of paths ?? [undefined]) metrics.countRequest(path, errors[0]?.code ?? 'OK');
      return {};
    },
  });

  const cors = createCors(config.API_CORS_ORIGINS);
  /** Answers 401 or 403 and returns true when the request's token may not reach `access`. */
  const refused = (req: IncomingMessage, res: ServerResponse, access: Access) => {
    const refused = refusal(config.API_TOKENS, bearerToken(header(req, 'authorization')), access);
    if (!refused) return false;
    const challenge: Record<string, string> = refused.code === 'UNAUTHORIZED' ? { 'www-authenticate': 'Bearer' } : {};
    json(res, refusals[refused.code], { error: { message: refused.message, data: { code: refused.code, httpStatus: refusals[refused.code] } } }, challenge);
    return true;
  };

  /** Set by close(): new work is refused (503, retryable), work in flight finishes. */
  let draining = false;
  /** Responses being served, so close() can end the live subscriptions among them. */
  const inFlight = new Set<ServerResponse>();

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    cors.decorate(req, res);
    if (req.method === 'OPTIONS') return cors.preflight(req, res);
    if (path === '/health') {
      // A load balancer stops sending here once the API is draining.
      if (draining) return json(res, 503, { ok: false, draining: true }, { connection: 'close' });
      const report = await checkHealth(base);
      return json(res, report.ok ? 200 : 503, report);
    }
    if (path === '/metrics') {
      if (refused(req, res, 'metrics')) return;
      return res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(await metrics.registry.metrics());
    }
    if (path === '/console') return req.method === 'GET' || req.method === 'HEAD' ? consolePage.serve(res) : json(res, 405, { error: 'GET only' }, { allow: 'GET, HEAD' });
    if (!path.startsWith('/trpc/')) return json(res, 404, { error: 'not found', see: ['/trpc', '/health', '/metrics', '/console'] });
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > config.API_MAX_BODY_BYTES) {
      // Answer before reading a byte of it, then hang up rather than take the rest.
      metrics.countRequest(undefined, 'PAYLOAD_TOO_LARGE');
      res.once('finish', () => req.socket.destroy());
      return json(
        res,
        413,
        { error: { message: `request body of ${declared} bytes exceeds the limit of ${config.API_MAX_BODY_BYTES}`, data: { code: 'PAYLOAD_TOO_LARGE', httpStatus: 413 } } },
        { connection: 'close' },
      );
    }
    if (draining) return refuseWhileDraining(req, res);
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
    const stop = metrics.timeRequest(decodeURIComponent(path.slice('/trpc/'.length)));
    res.once('finish', () => stop());
    await traceRequest(req, res, decodeURIComponent(path.slice('/trpc/'.length)), async () => trpc(req, res));
  }

  /**
   * A request that reached a draining API on a kept-alive connection: refused as retryable and
   * naming its command (read from the body), so the sender resends it with the same commandId
   * to another instance; the connection is closed after the answer.
   */
  async function refuseWhileDraining(req: IncomingMessage, res: ServerResponse) {
    let commandId: string | null = null;
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { commandId?: unknown } | null;
        if (typeof body?.commandId === 'string') commandId = body.commandId;
      } catch {
        // not JSON: nothing to name
      }
    }
    metrics.countRequest(undefined, 'SERVICE_UNAVAILABLE');
    const message = 'the API is shutting down: send the command again (same commandId)';
    json(res, 503, { error: { message, data: { code: 'SERVICE_UNAVAILABLE', httpStatus: 503, retryable: true, commandId, domainCode: null } } }, { connection: 'close', 'retry-after': '1' });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err, url: req.url }, 'request failed');
      if (!res.headersSent) json(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.API_PORT, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  if (open) {
    log.warn({ host }, 'API_TOKENS is not set: no authentication, listening on 127.0.0.1 only (local development)');
  } else {
    const tokens: Record<string, number> = {};
    for (const { role } of config.API_TOKENS) tokens[role] = (tokens[role] ?? 0) + 1;
    log.info({ host, tokens }, 'bearer tokens by role');
  }
  if (config.API_CORS_ORIGINS.length > 0) log.info({ origins: config.API_CORS_ORIGINS }, 'browsers may call from these origins (CORS)');

  return {
    server,
    url,
    // A command in flight ends within COMMAND_TIMEOUT_MS (answered or 503 COMMAND_TIMEOUT): let it.
    async close(graceMs = config.COMMAND_TIMEOUT_MS + 2_000) {
      draining = true;
      // A live subscription never finishes by itself: end it now; its client resumes elsewhere from its lastEventId.
      for (const res of inFlight) if (String(res.getHeader('content-type') ?? '').includes('text/event-stream')) res.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Each kept-alive connection is closed as soon as its request in flight is answered.
        const idle = setInterval(() => server.closeIdleConnections(), 50);
        server.once('close', () => clearInterval(idle));
        setTimeout(() => server.closeAllConnections(), graceMs).unref();
      });
      await ledgerflow.close();
    },
  };
}
