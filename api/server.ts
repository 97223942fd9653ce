import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import cors from '@fastify/cors';
import Fastify from 'fastify';
import type { AnyAppConfig } from '../core/app';
import type { Config } from '../core/config';
import type { AnyProjection } from '../core/projection';
import type { Logger } from '../infra/logger';
import { authOpen } from './access';
import { createLedgerflowContext } from './context';
import { ledgerflowFastify } from './fastify';

export interface ApiServer {
  server: Server;
  url: string;
  /** Stops taking requests, lets those in flight finish (up to `graceMs`), then disconnects. */
  close(graceMs?: number): Promise<void>;
}

/** The request headers a browser app sends: tRPC's links, the bearer token, a correlation id. */
const corsAllowedHeaders = ['authorization', 'content-type', 'trpc-accept', 'x-correlation-id', 'last-event-id'];

/** A slow sender (slowloris) has this long to send its whole request; answers, subscriptions included, are not limited. */
const requestTimeoutMs = 30_000;

export interface ApiServerOptions {
  /** Projections the admin procedures and metrics cover (the app's by default). */
  projections?: readonly AnyProjection[];
}

/**
 * Connects to Temporal, Redis and RabbitMQ and serves /trpc, /health, /metrics and /console.
 * Starts without waiting for any service: commands need only Temporal (whose connection opens
 * on first use), queries only Redis (whose clients reconnect by themselves); a service that is
 * away answers 503 until it is back.
 */
export async function startApiServer(app: AnyAppConfig, config: Config, log: Logger, options: ApiServerOptions = {}): Promise<ApiServer> {
  // Refused before any connection is opened, so a refusal leaves nothing running.
  const open = authOpen(config);
  const host = config.API_HOST ?? (open ? '127.0.0.1' : '0.0.0.0');
  if (open && !['127.0.0.1', 'localhost', '::1'].includes(host)) {
    throw new Error(`API_HOST=${host} needs API_TOKENS or API_JWT_*: without authentication the API listens on 127.0.0.1 only`);
  }
  const ledgerflow = createLedgerflowContext(app, config, log, options);
  const fastify = Fastify({
    bodyLimit: config.API_MAX_BODY_BYTES,
    requestTimeout: requestTimeoutMs,
    // Draining answers are the API's own (503 naming the commandId), not Fastify's.
    return503OnClosing: false,
    // A batch of procedures is one path parameter (`account.get,holder.get`).
    routerOptions: { maxParamLength: 5000 },
  });
  // A preflight the API will not allow is refused 403 with the reason, for whoever debugs the
  // browser's refusal (@fastify/cors would answer 204 without the allow headers); an OPTIONS
  // that names no origin is told what the API allows.
  const corsOrigins = config.API_CORS_ORIGINS;
  fastify.addHook('onRequest', async (request, reply) => {
    if (request.method !== 'OPTIONS') return;
    const origin = request.headers.origin;
    if (origin === undefined) return reply.code(204).header('allow', 'GET, POST, OPTIONS').send();
    if (corsOrigins.includes('*') || corsOrigins.includes(origin)) return;
    const message = corsOrigins.length === 0 ? 'cross-origin calls are off (API_CORS_ORIGINS is unset)' : `origin ${origin} is not in API_CORS_ORIGINS`;
    return reply.code(403).header('vary', 'Origin').send({ error: message });
  });
  if (corsOrigins.length > 0) {
    // Tokens travel in a header (or connectionParams), never in cookies: no credentials.
    await fastify.register(cors, {
      origin: config.API_CORS_ORIGINS.includes('*') ? '*' : [...config.API_CORS_ORIGINS],
      methods: ['GET', 'POST', 'OPTIONS'],
      allowedHeaders: corsAllowedHeaders,
      credentials: false,
      maxAge: 600,
    });
  }
  fastify.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: 'not found', see: ['/trpc', '/health', '/metrics', '/console'] }));
  await fastify.register(ledgerflowFastify, { app, ledgerflow, log });

  try {
    await fastify.listen({ port: config.API_PORT, host });
  } catch (error) {
    await ledgerflow.close();
    throw error;
  }
  const server = fastify.server;
  const { port } = server.address() as AddressInfo;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  if (open) {
    log.warn({ host }, 'neither API_TOKENS nor API_JWT_* is set: no authentication, listening on 127.0.0.1 only (local development)');
  } else {
    const tokens: Record<string, number> = {};
    for (const { role } of config.API_TOKENS) tokens[role] = (tokens[role] ?? 0) + 1;
    const jwt = config.API_JWT_JWKS_URL ? { keys: config.API_JWT_JWKS_URL } : config.API_JWT_SECRET ? { keys: 'HS256 secret' } : null;
    log.info({ host, tokens, jwt: jwt && { ...jwt, issuer: config.API_JWT_ISSUER, audience: config.API_JWT_AUDIENCE } }, 'bearer tokens by role, and JWTs');
  }
  if (config.API_CORS_ORIGINS.length > 0) log.info({ origins: config.API_CORS_ORIGINS }, 'browsers may call from these origins (CORS)');

  return {
    server,
    url,
    // A command in flight ends within COMMAND_TIMEOUT_MS (answered or 503 COMMAND_TIMEOUT): let it.
    async close(graceMs = config.COMMAND_TIMEOUT_MS + 2_000) {
      const cutOff = setTimeout(() => server.closeAllConnections(), graceMs).unref();
      await fastify.close();
      clearTimeout(cutOff);
      await ledgerflow.close();
    },
  };
}
