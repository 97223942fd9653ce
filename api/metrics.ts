import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ProjectionAdmin } from '../projectors/admin';
import type { ProjectionStatus } from '../projectors/status';

const projectionGauges: [string, string, (s: ProjectionStatus) => number | null][] = [
  ['ledgerflow_projection_lag_events', 'Events in the stream not yet applied', (s) => s.lagEvents],
  ['ledgerflow_projection_lag_seconds', 'Age of the oldest delivered, unapplied event', (s) => s.lagSeconds],
  ['ledgerflow_projection_checkpoint', 'Stream offset of the last applied event', (s) => s.checkpoint],
  ['ledgerflow_projection_stream_tail', 'Newest offset in the event stream', (s) => s.tail],
  ['ledgerflow_projection_events_per_second', 'Events applied per second', (s) => s.eventsPerSecond],
  ['ledgerflow_projection_parked', 'Parked (dead-lettered) events', (s) => s.parked],
  ['ledgerflow_projection_up', '1 when an instance owns and runs the projection', (s) => (s.state === 'live' || s.state === 'rebuilding' ? 1 : 0)],
  ['ledgerflow_projection_rebuilding', '1 while a rebuild runs', (s) => (s.state === 'rebuilding' ? 1 : 0)],
];

/** The API's Prometheus registry, served at GET /metrics; projection gauges are read at scrape time. */
export function createApiMetrics(admin: ProjectionAdmin) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ledgerflow_api_' });
  let statuses: Promise<ProjectionStatus[]> | null = null;
  for (const [name, help, read] of projectionGauges) {
    new Gauge({
      name,
      help,
      labelNames: ['projection'] as const,
      registers: [registry],
      async collect() {
        // One read of the statuses per scrape, shared by every gauge.
        statuses ??= admin.statuses().finally(() => setTimeout(() => (statuses = null), 100));
        this.reset();
        for (const status of await statuses) {
          const value = read(status);
          if (value !== null) this.set({ projection: status.name }, value);
        }
      },
    });
  }
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
