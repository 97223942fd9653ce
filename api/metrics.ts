import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The API's Prometheus registry, served at GET /metrics. */
export function createApiMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ledgerflow_api_' });
  return {
    registry,
    requests: new Counter({
      name: 'ledgerflow_api_requests_total',
      help: 'tRPC calls by procedure and outcome code',
      labelNames: ['path', 'code'] as const,
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'ledgerflow_api_request_duration_seconds',
      help: 'tRPC call duration by procedure',
      labelNames: ['path'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;
