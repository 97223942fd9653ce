import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Registry } from 'prom-client';
import { createApiMetrics } from '../../api/metrics';
import { loadConfig } from '../../core/config';
import { createProjectorMetrics, createWorkerMetrics, processRegistry, temporalSdkSeries } from '../../infra/metrics';
import type { ProjectionAdmin } from '../../projectors/admin';
import { dashboardQueries, seriesOf } from '../support/dashboard';

function registered(): Map<string, string> {
  const registries: Registry[] = [
    processRegistry(),
    createWorkerMetrics(processRegistry()).registry,
    createProjectorMetrics(processRegistry()).registry,
    createApiMetrics({ admin: { statuses: async () => [] } as unknown as ProjectionAdmin, procedures: [], commandsQueued: () => 0 }).registry,
  ];
  const names = new Map<string, string>();
  for (const registry of registries) for (const metric of registry.getMetricsAsArray()) names.set(metric.name, (metric as unknown as { type: string }).type);
  return names;
}

describe('the Grafana dashboard', () => {
  it('has queries', () => {
    assert.ok(dashboardQueries().length >= 20);
  });

  it('reads only series the code registers (or the Temporal SDK serves, or Prometheus makes)', () => {
    const names = registered();
    const known = (series: string): boolean => {
      if (series === 'up') return true;
      const histogram = series.match(/^(.*)_(bucket|sum|count)$/);
      if (histogram && (names.get(histogram[1]!) === 'histogram' || (temporalSdkSeries as readonly string[]).includes(histogram[1]!))) return true;
      return names.has(series) || (temporalSdkSeries as readonly string[]).includes(series);
    };
    const unknown = dashboardQueries().flatMap(({ panel, expr }) => seriesOf(expr).filter((s) => !known(s)).map((s) => `${panel}: ${s}`));
    assert.deepEqual(unknown, []);
  });

  it('covers command rate, latency, publish backlog, projection lag and parked events', () => {
    const used = new Set(dashboardQueries().flatMap(({ expr }) => seriesOf(expr)));
    for (const series of [
      'ledgerflow_worker_commands_decided_total',
      'ledgerflow_api_request_duration_seconds_bucket',
      'ledgerflow_worker_publish_backlog_events',
      'ledgerflow_projection_lag_events',
      'ledgerflow_projection_parked',
    ]) {
      assert.ok(used.has(series), series);
    }
  });

  it('finds series in PromQL', () => {
    assert.deepEqual(seriesOf('histogram_quantile(0.95, sum by (le, path) (rate(a_b_bucket{x="y"}[$__rate_interval])))'), ['a_b_bucket']);
    assert.deepEqual(seriesOf('max by (projection) (c_d) + e'), ['c_d', 'e']);
  });
});

describe('the Prometheus scrape config', () => {
  const text = readFileSync(join(__dirname, '..', '..', 'deploy', 'prometheus', 'prometheus.yml'), 'utf8');
  /** job name → the service name and port of its first target. */
  const jobs = new Map(
    [...text.matchAll(/- job_name: (\S+)[\s\S]*?(?:names: \[(\w+)\][\s\S]*?port: (\d+)|targets: \['([\w-]+):(\d+)'\])/g)].map((m) => [m[1], { service: m[2] ?? m[4], port: Number(m[3] ?? m[5]) }]),
  );

  it('scrapes the api, the worker and the projector on the ports they serve by default, and the Temporal server', () => {
    const config = loadConfig({});
    assert.deepEqual(Object.fromEntries(jobs), {
      api: { service: 'api', port: config.API_PORT },
      worker: { service: 'worker', port: config.WORKER_METRICS_PORT },
      projector: { service: 'projector', port: config.PROJECTOR_METRICS_PORT },
      temporal: { service: 'temporal', port: 8000 },
    });
  });
});

