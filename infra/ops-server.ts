/**
 * The operations endpoint of the worker and the projector: GET /metrics (Prometheus),
 * GET /health/live (the process answers) and GET /health/ready (connected and running: 503
 * with the failing checks otherwise). `/health` answers as `/health/ready`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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

const json = (body: unknown) => JSON.stringify(body);

export async function startOpsServer({ port, host, registry, ready, moreMetrics, log }: OpsServerOptions): Promise<OpsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const respond = async () => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return res.writeHead(405, { allow: 'GET, HEAD' }).end();
      if (path === '/metrics') {
        const own = await registry.metrics();
        const more = moreMetrics ? await moreMetrics().catch((err: unknown) => (log.debug({ err }, 'extra metrics not available'), '')) : '';
        return res.writeHead(200, { 'content-type': registry.contentType }).end(more ? `${own}\n${more}` : own);
      }
      if (path === '/health/live') return res.writeHead(200, { 'content-type': 'application/json' }).end(json({ ok: true }));
      if (path === '/health/ready' || path === '/health') {
        const checks = await ready();
        const ok = Object.values(checks).every(Boolean);
        return res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(json({ ok, checks }));
      }
      return res.writeHead(404, { 'content-type': 'application/json' }).end(json({ error: 'not found', see: ['/metrics', '/health/live', '/health/ready'] }));
    };
    respond().catch((err: unknown) => {
      log.error({ err, url: req.url }, 'operations request failed');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    server,
    url: `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Reads another exporter's /metrics (Temporal Core's, on loopback) within `timeoutMs`. */
export async function scrape(url: string, timeoutMs = 1000): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return response.text();
}
