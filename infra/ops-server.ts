/**
 * The operations endpoint of the worker and the projector: GET /metrics (Prometheus),
 * GET /health/live (the process answers) and GET /health/ready (connected and running: 503
 * with the failing checks otherwise). `/health` answers as `/health/ready`.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from './logger';

export type ReadinessChecks = Record<string, boolean>;

export interface OpsServerOptions {
  port: number;
  host: string;
  registry: Registry;
  /** Each dependency's and part's state; ready when all are true. */
  ready: () => ReadinessChecks | Promise<ReadinessChecks>;
  /** More exposition text appended to /metrics (the Temporal SDK's series); may fail, never fails a scrape. */
  moreMetrics?: () => Promise<string>;
  log: Logger;
}

export interface OpsServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function startOpsServer({ port, host, registry, ready, moreMetrics, log }: OpsServerOptions): Promise<OpsServer> {
  // Nothing but GET: no body is ever read.
  const app = Fastify({ bodyLimit: 1024, forceCloseConnections: true });
  app.get('/metrics', async (_request, reply) => {
    const own = await registry.metrics();
    const more = moreMetrics ? await moreMetrics().catch((err: unknown) => (log.debug({ err }, 'extra metrics not available'), '')) : '';
    return reply.type(registry.contentType).send(more ? `${own}\n${more}` : own);
  });
  app.get('/health/live', async () => ({ ok: true }));
  const readiness = async (_request: FastifyRequest, reply: FastifyReply) => {
    const checks = await ready();
    const ok = Object.values(checks).every(Boolean);
    return reply.code(ok ? 200 : 503).send({ ok, checks });
  };
  app.get('/health/ready', readiness);
  app.get('/health', readiness);
  const paths = ['/metrics', '/health/live', '/health/ready', '/health'];
  app.setNotFoundHandler((request, reply) =>
    paths.includes(request.url.split('?')[0]!)
      ? reply.code(405).header('allow', 'GET, HEAD').send({ error: `${request.method} is not served here: GET only` })
      : reply.code(404).send({ error: 'not found', see: ['/metrics', '/health/live', '/health/ready'] }),
  );
  app.setErrorHandler((err, request, reply) => {
    log.error({ err, url: request.url }, 'operations request failed');
    return reply.code(500).send({ error: 'internal error' });
  });
  await app.listen({ port, host });
  const address = app.server.address() as AddressInfo;
  return {
    server: app.server,
    url: `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${address.port}`,
    close: () => app.close(),
  };
}

/** Reads another exporter's /metrics (Temporal Core's, on loopback) within `timeoutMs`. */
export async function scrape(url: string, timeoutMs = 1000): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return response.text();
}
