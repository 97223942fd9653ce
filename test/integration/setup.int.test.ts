/**
 * `ledgerflow setup` against a cluster that has never seen Ledgerflow: a Temporal dev server
 * started without the search attributes, a fresh exchange and stream, Redis. The worker refuses
 * it with a message naming what is missing and the command that fixes it; setup registers and
 * declares everything and says so; a second run changes nothing; then the worker starts and
 * processes a command.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import type { Connection as RabbitConnection } from 'rabbitmq-client';
import { createAggregateWorker, type AggregateWorker } from '../../bin/worker';
import { createCommandBus } from '../../commands/bus';
import { buildCommand } from '../../commands/envelope';
import { loadConfig, type Config } from '../../core/config';
import { connectRabbit } from '../../infra/rabbit';
import { ClusterNotReadyError, searchAttributeGaps, setupCluster, type SetupReport } from '../../infra/setup';
import { connectTemporal } from '../../infra/temporal';
import { startTemporalDevServer, type DevServer } from '../../infra/temporal-dev-server';
import { searchAttributeKeys } from '../../workflows/definitions';
import { envOf, freePort, isolatedNames, uniqueId } from '../support/stack';
import { ledgerConfigPath, loadLedger } from '../support/apps';

const root = join(__dirname, '..', '..');
const attributeNames = searchAttributeKeys.map((k) => k.name);

/** Runs bin/worker.ts as a process, as deployed; resolves with its exit code and output. */
function runWorkerProcess(config: Config): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bin', 'worker.ts')], {
      env: { ...envOf(config, { LEDGERFLOW_CONFIG: ledgerConfigPath }), WORKER_METRICS_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // A worker that did start would run forever: stop it, and the assertion below says why.
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Runs `ledgerflow setup <args> --json` as a user would; resolves with its exit code and report. */
function runSetupCommand(config: Config, args: string[]): Promise<{ code: number | null; report: SetupReport; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bin', 'ledgerflow.ts'), 'setup', ...args, '--json'], { env: envOf(config, { LEDGERFLOW_CONFIG: ledgerConfigPath }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      try {
        resolve({ code, report: JSON.parse(stdout) as SetupReport, stderr });
      } catch {
        reject(new Error(`ledgerflow setup printed no JSON report (exit ${code}):\n${stdout}\n${stderr}`));
      }
    });
  });
}

describe('ledgerflow setup on a cluster without Ledgerflow', { timeout: 300_000 }, () => {
  let server: DevServer;
  let config: Config;
  let temporal: Client;
  let rabbit: RabbitConnection;
  let worker: AggregateWorker | undefined;
  const policies: string[] = [];

  before(async () => {
    const run = uniqueId('setup');
    server = await startTemporalDevServer({ port: await freePort(), searchAttributes: false });
    config = loadConfig({
      TEMPORAL_ADDRESS: server.address,
      ...isolatedNames(run),
      LOG_LEVEL: 'warn',
    });
    temporal = await connectTemporal(config);
    rabbit = connectRabbit(config, 'setup-test');
  });

  after(async () => {
    await worker?.shutdown();
    await temporal?.connection.close();
    await server?.stop();
    await rabbit?.queueDelete({ queue: config.EVENTS_STREAM }).catch(() => {});
    await rabbit?.exchangeDelete({ exchange: config.EVENTS_EXCHANGE }).catch(() => {});
    await rabbit?.close();
    const amqp = new URL(config.RABBITMQ_URL);
    for (const name of policies) {
      await fetch(`http://${amqp.hostname}:15672/api/policies/%2F/${encodeURIComponent(name)}`, {
        method: 'DELETE',
        headers: { authorization: `Basic ${Buffer.from(`${amqp.username || 'guest'}:${amqp.password || 'guest'}`).toString('base64')}` },
      }).catch(() => {});
    }
  });

  it('the worker refuses to start, naming the missing search attributes and `ledgerflow setup`', async () => {
    const { code, output } = await runWorkerProcess(config);
    assert.equal(code, 1, `the worker exits 1; it said:\n${output}`);
    assert.match(output, /lacks the search attributes/);
    for (const name of attributeNames) assert.ok(output.includes(name), `names ${name}:\n${output}`);
    assert.match(output, /ledgerflow setup/);
    // The factory, as tests and embedders use it, refuses the same way.
    await assert.rejects(createAggregateWorker(await loadLedger(), config), (error: unknown) => error instanceof ClusterNotReadyError && /ledgerflow setup/.test(error.message));
  });

  it('`ledgerflow setup --dry-run` says what it would change, changes nothing, and exits 1', async () => {
    const { code, report, stderr } = await runSetupCommand(config, ['--dry-run']);
    assert.equal(code, 1, stderr);
    assert.equal(report.ok, false, 'not ready yet');
    for (const name of attributeNames) assert.ok(report.changed.some((line) => line.startsWith('would register') && line.includes(name)), `${name} in ${report.changed.join('\n')}`);
    assert.ok(report.changed.some((line) => line.includes(`would declare RabbitMQ exchange ${config.EVENTS_EXCHANGE}`)));
    assert.ok(report.changed.some((line) => line.includes(`would declare RabbitMQ stream ${config.EVENTS_STREAM}`)));
    const gaps = await searchAttributeGaps(temporal.connection.operatorService, config.TEMPORAL_NAMESPACE);
    assert.deepEqual(gaps.missing.map((k) => k.name).sort(), [...attributeNames].sort(), 'nothing registered');
    await assert.rejects(rabbit.exchangeDeclare({ exchange: config.EVENTS_EXCHANGE, passive: true }), 'no exchange declared');
  });

  it('`ledgerflow setup` registers the search attributes, declares the exchange and the stream, binds them, and reports each', async () => {
    const { code, report, stderr } = await runSetupCommand(config, []);
    assert.equal(code, 0, stderr);
    assert.equal(report.ok, true, report.checked.join('\n'));
    for (const name of attributeNames) assert.ok(report.changed.some((line) => line.startsWith('registered') && line.includes(name)), `${name} in ${report.changed.join('\n')}`);
    assert.ok(report.changed.includes(`declared RabbitMQ exchange ${config.EVENTS_EXCHANGE} (topic, durable)`), report.changed.join('\n'));
    assert.ok(report.changed.includes(`declared RabbitMQ stream ${config.EVENTS_STREAM} (every event kept)`), report.changed.join('\n'));
    assert.ok(report.changed.some((line) => line.startsWith('bound RabbitMQ binding')), report.changed.join('\n'));
    assert.equal(report.changed.length, attributeNames.length + 3, `exactly these changes:\n${report.changed.join('\n')}`);
    assert.ok(report.checked.some((line) => line.startsWith('Redis at')), report.checked.join('\n'));

    const gaps = await searchAttributeGaps(temporal.connection.operatorService, config.TEMPORAL_NAMESPACE);
    assert.deepEqual(gaps, { missing: [], mistyped: [] });
    await rabbit.exchangeDeclare({ exchange: config.EVENTS_EXCHANGE, passive: true });
    await rabbit.queueDeclare({ queue: config.EVENTS_STREAM, passive: true });
  });

  it('a second run changes nothing', async () => {
    const { code, report } = await runSetupCommand(config, []);
    assert.equal(code, 0);
    assert.equal(report.ok, true, report.checked.join('\n'));
    assert.deepEqual(report.changed, []);
    for (const name of attributeNames) assert.ok(report.checked.some((line) => line.includes(`search attribute ${name} `) && line.endsWith('is registered')), `${name} checked`);
    const dry = await setupCluster(config, { dryRun: true });
    assert.deepEqual(dry, { ...dry, ok: true, changed: [] }, 'a dry run on a ready cluster is ok');
  });

  it('applies a retention configured after the stream was declared, once', async () => {
    const withRetention = { ...config, EVENTS_RETENTION: '7D' };
    const first = await setupCluster(withRetention);
    // Retention is read and set through RabbitMQ's management API: without it this cannot be tested, which is a failure, not a pass.
    assert.ok(
      !first.checked.some((line) => line.includes('retention not verified')),
      `the RabbitMQ management API (plugin rabbitmq_management) did not answer; enable it with \`rabbitmq-plugins enable rabbitmq_management\` (make test does, through scripts/enable-rabbitmq-management.sh):\n${first.checked.join('\n')}`,
    );
    policies.push(`ledgerflow-retention.${config.EVENTS_STREAM}`);
    assert.equal(first.ok, true, first.checked.join('\n'));
    assert.deepEqual(first.changed, [`set RabbitMQ stream ${config.EVENTS_STREAM} retention unlimited → 7D (policy ledgerflow-retention.${config.EVENTS_STREAM})`]);
    const second = await setupCluster(withRetention);
    assert.deepEqual(second.changed, []);
    assert.ok(second.checked.includes(`RabbitMQ stream ${config.EVENTS_STREAM} retention: 7D (policy ledgerflow-retention.${config.EVENTS_STREAM})`), second.checked.join('\n'));
  });

  it('then the worker starts and processes a command', async () => {
    worker = await createAggregateWorker(await loadLedger(), config);
    void worker.run();
    const bus = createCommandBus(temporal, { taskQueue: config.TEMPORAL_TASK_QUEUE, timeoutMs: 60_000 });
    const outcome = await bus.submit(
      buildCommand({ aggregateType: 'account', aggregateId: uniqueId('account'), type: 'deposit', payload: { entryId: 'book', amount: 12.5 } }),
    );
    assert.equal(outcome.status, 'accepted', JSON.stringify(outcome));
    assert.equal((outcome as { version: number }).version, 1);
  });
});
