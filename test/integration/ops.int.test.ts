/**
 * The worker and the projector as deployed (processes of their own, from bin/): each serves
 * /metrics and /health/{live,ready} on its port (0: a free one, named in its start-up line),
 * logs as JSON through pino (the Temporal SDK's lines included), and serves every series the
 * Grafana dashboard reads.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { temporalSdkSeries } from '../../infra/metrics';
import { dashboardQueries, seriesOf } from '../support/dashboard';
import { envOf, eventually, startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';

const root = join(__dirname, '..', '..');

interface Role {
  child: ChildProcess;
  lines: Record<string, any>[];
  metricsUrl: string;
}

async function startRole(stack: LedgerStack, name: 'worker' | 'projector'): Promise<Role> {
  const env = { ...envOf(stack.config, { LEDGERFLOW_CONFIG: stack.app.path }), WORKER_METRICS_PORT: '0', PROJECTOR_METRICS_PORT: '0', LOG_LEVEL: 'info' };
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bin', `${name}.ts`)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, any>[] = [];
  const raw: string[] = [];
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const part of parts) {
      raw.push(part);
      try {
        lines.push(JSON.parse(part));
      } catch {
        // not a log line
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => raw.push(chunk.toString()));
  const started = await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}:\n${raw.join('\n')}`);
      return lines.find((l) => l.msg === `${name} started` && l.metrics);
    },
    120_000,
    `${name} started`,
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}\n${raw.slice(-30).join('\n')}`);
  });
  return { child, lines, metricsUrl: started.metrics as string };
}

async function stopRole(role: Role | undefined) {
  if (!role || role.child.exitCode !== null) return;
  const exited = new Promise((resolve) => role.child.once('exit', resolve));
  role.child.kill('SIGTERM');
  const timer = setTimeout(() => role.child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

const text = async (url: string) => {
  const response = await fetch(url);
  assert.equal(response.status, 200, url);
  return response.text();
};
const sample = (metrics: string, series: string): number | undefined => {
  const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('operations: /metrics, /health and logs of the worker and the projector', { timeout: 300_000 }, () => {
  let stack: LedgerStack;
  let worker: Role | undefined;
  let projector: Role | undefined;

  before(async () => {
    stack = await startLedgerStack({ worker: false, projector: false });
    [worker, projector] = await Promise.all([startRole(stack, 'worker'), startRole(stack, 'projector')]);
  });
  after(async () => {
    await Promise.all([stopRole(worker), stopRole(projector)]);
    await stack?.stop();
  });

  it('answers liveness and readiness', async () => {
    for (const role of [worker!, projector!]) {
      const base = role.metricsUrl.replace(/\/metrics$/, '');
      const live = await fetch(`${base}/health/live`);
      assert.equal(live.status, 200);
      const ready = await eventually(async () => {
        const response = await fetch(`${base}/health/ready`);
        return response.status === 200 ? ((await response.json()) as { ok: boolean; checks: Record<string, boolean> }) : undefined;
      }, 30_000, 'ready');
      assert.equal(ready.ok, true);
      assert.ok(Object.values(ready.checks).every(Boolean));
      assert.equal((await fetch(`${base}/nothing`)).status, 404);
      const posted = await fetch(`${base}/metrics`, { method: 'POST' });
      assert.equal(posted.status, 405, 'GET only');
      assert.equal(posted.headers.get('allow'), 'GET, HEAD');
    }
  });

  it('counts decisions, publishing and applied events, with the Temporal SDK’s series and unprefixed Node metrics', async () => {
    const accountId = uniqueId('ops');
    await stack.trpc.account.deposit.mutate({ accountId, entryId: 'a', amount: 2, wait: 'projected' });
    await stack.trpc.account.withdraw.mutate({ accountId, entryId: 'too-much', amount: 3 }).catch(() => undefined);

    const workerMetrics = await eventually(async () => {
      const metrics = await text(worker!.metricsUrl);
      return sample(metrics, 'ledgerflow_worker_commands_decided_total{aggregate="account",outcome="rejected"}') === 1 ? metrics : undefined;
    }, 30_000, 'worker counted the decisions');
    assert.equal(sample(workerMetrics, 'ledgerflow_worker_commands_decided_total{aggregate="account",outcome="accepted"}'), 1);
    assert.equal(sample(workerMetrics, 'ledgerflow_worker_events_published_total{aggregate="account"}'), 1);
    assert.equal(sample(workerMetrics, 'ledgerflow_worker_publish_backlog_aggregates'), 0);
    assert.ok(sample(workerMetrics, 'process_cpu_seconds_total')! > 0);
    assert.match(workerMetrics, /^nodejs_eventloop_lag_p99_seconds /m);
    for (const series of temporalSdkSeries) assert.match(workerMetrics, new RegExp(`^${series}_bucket\\{`, 'm'), series);

    const projectorMetrics = await eventually(async () => {
      const metrics = await text(projector!.metricsUrl);
      return (sample(metrics, 'ledgerflow_projector_events_applied_total{projection="accounts"}') ?? 0) >= 1 ? metrics : undefined;
    }, 30_000, 'projector counted the applied event');
    assert.match(projectorMetrics, /^ledgerflow_projector_batch_duration_seconds_count\{projection="accounts"\} [1-9]/m);
    assert.equal(sample(projectorMetrics, 'ledgerflow_projector_owned{projection="accounts"}'), 1);
    assert.notEqual(sample(projectorMetrics, 'ledgerflow_projector_lag_events{projection="accounts"}'), undefined);
    assert.match(projectorMetrics, /^process_cpu_seconds_total /m);

    const apiMetrics = await text(`${stack.api!.url}/metrics`);
    assert.match(apiMetrics, /^process_cpu_seconds_total /m);
    assert.doesNotMatch(apiMetrics, /ledgerflow_api_process_|ledgerflow_api_nodejs_/);
  });

  it('serves every series the Grafana dashboard reads', async () => {
    const scraped = (await Promise.all([text(worker!.metricsUrl), text(projector!.metricsUrl), text(`${stack.api!.url}/metrics`)])).join('\n');
    const served = (series: string) => {
      const base = series.replace(/_(bucket|sum|count)$/, '');
      return new RegExp(`^# TYPE (${series}|${base}) `, 'm').test(scraped) || new RegExp(`^${series}[ {]`, 'm').test(scraped);
    };
    const missing = [...new Set(dashboardQueries().flatMap(({ expr }) => seriesOf(expr)))].filter((s) => s !== 'up' && !served(s));
    assert.deepEqual(missing, []);
  });

  it('logs as JSON through pino, the Temporal SDK’s lines included', () => {
    assert.ok(worker!.lines.some((l) => l.name === 'worker' && l.component === 'temporal'), 'a Temporal SDK line in the worker’s log');
  });
});
