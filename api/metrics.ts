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
  ['ledgerflow_projection_gaps_open', 'Aggregates parked behind a version gap (history missing from the log)', (s) => s.gapsOpen],
  ['ledgerflow_projection_halted', '1 while the projection consumes nothing because its parked list is full', (s) => (s.halted ? 1 : 0)],
  ['ledgerflow_projection_rebuild_held', '1 while a rebuild waits for its gaps to be accepted', (s) => (s.rebuild?.held ? 1 : 0)],
  ['ledgerflow_projection_up', '1 when an instance owns and runs the projection', (s) => (s.state === 'live' || s.state === 'rebuilding' ? 1 : 0)],
  ['ledgerflow_projection_rebuilding', '1 while a rebuild runs', (s) => (s.state === 'rebuilding' ? 1 : 0)],
];

/** The one label value for a request path that is not a known procedure: label sets stay bounded. */
export const unknownPath = 'unknown';

/** How long a scrape waits for the projections' statuses before serving the last ones it read. */
const statusTimeoutMs = 1000;

export interface ApiMetricsOptions {
  admin: ProjectionAdmin;
  /** Every procedure path (`cart.addItem`, ...); any other path is counted as `unknown`. */
  procedures: readonly string[];
  /** Commands the API process holds (waiting or in flight). */
  commandsQueued: () => number;
}

/**
 * The API's Prometheus registry, served at GET /metrics. Projection gauges are read from Redis
 * at scrape time; while Redis is away the last statuses read are served, marked stale, so a
 * scrape always answers.
 */
export function createApiMetrics({ admin, procedures, commandsQueued }: ApiMetricsOptions) {
  const registry = new Registry();
  // Unprefixed, as every Node service exports them (process_*, nodejs_*): the job label says which process.
  collectDefaultMetrics({ register: registry });
  const known = new Set(procedures);
  let reading: Promise<void> | null = null;
  let last: { statuses: ProjectionStatus[]; at: number } = { statuses: [], at: 0 };
  let stale = true;

  /** One read of the statuses per scrape, shared by every gauge; never throws. */
  const refresh = () =>
    (reading ??= withTimeout(admin.statuses(), statusTimeoutMs)
      .then(
        (statuses) => {
          last = { statuses, at: Date.now() };
          stale = false;
        },
        () => {
          stale = true;
        },
      )
      .finally(() => setTimeout(() => (reading = null), 100).unref()));

  for (const [name, help, read] of projectionGauges) {
    new Gauge({
      name,
      help,
      labelNames: ['projection'] as const,
      registers: [registry],
      async collect() {
        await refresh();
        this.reset();
        for (const status of last.statuses) {
          const value = read(status);
          if (value !== null) this.set({ projection: status.name }, value);
        }
      },
    });
  }
  new Gauge({
    name: 'ledgerflow_projection_status_stale',
    help: '1 when the projection series could not be read from Redis at this scrape (they show the last values read)',
    registers: [registry],
    async collect() {
      await refresh();
      this.set(stale ? 1 : 0);
    },
  });
  new Gauge({
    name: 'ledgerflow_projection_status_age_seconds',
    help: 'Age of the projection statuses served (grows while Redis is away)',
    registers: [registry],
    async collect() {
      await refresh();
      this.set(last.at === 0 ? 0 : (Date.now() - last.at) / 1000);
    },
  });
  new Gauge({
    name: 'ledgerflow_api_commands_queued',
    help: 'Commands this API process holds, waiting for their aggregate or in flight',
    registers: [registry],
    collect() {
      this.set(commandsQueued());
    },
  });

  const requests = new Counter({
    name: 'ledgerflow_api_requests_total',
    help: 'tRPC calls by procedure and outcome code',
    labelNames: ['path', 'code'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'ledgerflow_api_request_duration_seconds',
    help: 'tRPC call duration by procedure',
    labelNames: ['path'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const label = (path: string | undefined) => (path !== undefined && known.has(path) ? path : unknownPath);

  return {
    registry,
    /** Counts one call; `code` is a tRPC error code (a closed set) or OK. */
    countRequest: (path: string | undefined, code: string) => requests.inc({ path: label(path), code }),
    /** Starts timing a request to `path`; call the result when it finished. */
    timeRequest: (path: string | undefined) => duration.startTimer({ path: label(path) }),
  };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (error: unknown) => (clearTimeout(timer), reject(error)),
    );
  });
}
