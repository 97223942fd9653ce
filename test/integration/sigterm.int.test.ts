/**
 * Graceful life: under load from many senders, the worker, the projector and the API are each
 * sent SIGTERM in turn and started again. Each exits 0 on its own (drained, not killed): the
 * API answers the requests it had and refuses new ones as retryable, the worker finishes its
 * tasks, the projector commits its batch and releases its leases. Then every acknowledged
 * command is in the event log and the read models exactly once, per account (the drills' accounting).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import type { Connection } from 'rabbitmq-client';
import { loadConfig, type Config } from '../../core/config';
import { projectionsOf } from '../../core/app';
import { connectRabbit, declareTopology, topologyOf } from '../../infra/rabbit';
import { closeRedis, createRedis, type Redis } from '../../infra/redis';
import { connectTemporal } from '../../infra/temporal';
import { startTemporalDevServer, type DevServer } from '../../infra/temporal-dev-server';
import { projectionKeys } from '../../projectors/keys';
import { createReadModels, type ReadModels } from '../../projectors/store';
import { describeBetween, runFor, startLoad, tallyBetween, type Load } from '../drills/support/load';
import { assertAccounted, audit, describeReport } from '../drills/support/verify';
import { testAppPath } from '../support/apps';
import audited from '../support/domains/audited.config';
import { envOf, eventually, freePort, isolatedNames, listening, openAccountStream, removeRunData, uniqueId } from '../support/stack';

const root = join(__dirname, '..', '..');
const projections = projectionsOf(audited);
type RoleName = 'worker' | 'projector' | 'api';

interface Role {
  child?: ChildProcess;
  output: string[];
  /** Exits that were not asked for. */
  crashes: number;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)}s`;

describe('SIGTERM under load drains each process without losing or doubling work', { timeout: 300_000 }, () => {
  let server: DevServer;
  let config: Config;
  let env: NodeJS.ProcessEnv;
  let temporal: Client;
  let rabbit: Connection;
  let redis: Redis;
  let readModels: ReadModels;
  let load: Load | undefined;
  const ports = { worker: 0, projector: 0 };
  const roles: Record<RoleName, Role> = { worker: { output: [], crashes: 0 }, projector: { output: [], crashes: 0 }, api: { output: [], crashes: 0 } };
  const asked = new Set<ChildProcess>();

  async function start(name: RoleName) {
    const role = roles[name];
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bin', `${name}.ts`)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      role.output.push(...chunk.toString().split('\n').filter(Boolean));
      role.output.splice(0, Math.max(0, role.output.length - 200));
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.once('exit', () => {
      if (!asked.has(child)) role.crashes += 1;
    });
    role.child = child;
    // Ready when it serves: the API its port, the worker and the projector their /health/ready.
    const ready =
      name === 'api'
        ? () => listening(config.API_PORT).then((ok) => ok || undefined)
        : () => fetch(`http://127.0.0.1:${ports[name]}/health/ready`).then((r) => r.ok || undefined);
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`${name} exited: ${role.output.slice(-20).join('\n')}`);
      return ready();
    }, 120_000, `${name} ready`);
  }

  /** Sends SIGTERM and waits for the process to end by itself. */
  async function terminate(name: RoleName): Promise<Exit> {
    const child = roles[name].child!;
    asked.add(child);
    const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.kill('SIGTERM');
    // A process that never ends would hang the test: after a generous wait it is killed, and the exit says so.
    const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    const exit = await exited;
    clearTimeout(killer);
    return exit;
  }

  const tail = (name: RoleName) => roles[name].output.slice(-30).join('\n');

  before(async () => {
    const run = uniqueId('sigterm');
    server = await startTemporalDevServer({ port: await freePort() });
    ports.worker = await freePort();
    ports.projector = await freePort();
    config = loadConfig({
      TEMPORAL_ADDRESS: server.address,
      ...isolatedNames(run),
      API_PORT: String(await freePort()),
      COMMAND_TIMEOUT_MS: '5000',
      LOG_LEVEL: 'info',
    });
    env = { ...envOf(config, { LEDGERFLOW_CONFIG: testAppPath('audited') }), WORKER_METRICS_PORT: String(ports.worker), PROJECTOR_METRICS_PORT: String(ports.projector), WORKER_SDK_METRICS_PORT: '0' };
    temporal = await connectTemporal(config);
    rabbit = connectRabbit(config, 'sigterm-test');
    await declareTopology(rabbit, topologyOf(config));
    redis = createRedis(config.REDIS_URL, 'sigterm-test');
    await redis.connect();
    readModels = createReadModels(redis, config.REDIS_PREFIX);
    await Promise.all([start('worker'), start('projector'), start('api')]);
  });

  after(async () => {
    await load?.stop().catch(() => {});
    for (const role of Object.values(roles)) {
      const child = role.child;
      if (child && child.exitCode === null && child.signalCode === null) {
        asked.add(child);
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
    }
    await temporal?.connection.close();
    await server?.stop();
    await removeRunData(rabbit, redis, config);
    await rabbit?.close();
    if (redis) await closeRedis(redis);
  });

  it('SIGTERMs the worker, the projector and the API in turn; every acknowledged command is applied once', async () => {
    load = startLoad({ apiUrl: `http://127.0.0.1:${config.API_PORT}`, prefix: uniqueId('st'), hotSenders: 8, manySenders: 12, accountsPerSender: 3 });
    const acknowledged = () => load!.tally.acknowledged.size;
    await runFor(3000);
    const lines: string[] = [];

    // The worker: stops polling, finishes the tasks it holds, exits 0.
    let sent = Date.now();
    const worker = await terminate('worker');
    assert.deepEqual(worker, { code: 0, signal: null }, `the worker exits 0 by itself:\n${tail('worker')}`);
    assert.ok(roles.worker.output.some((line) => line.includes('worker stopped')), tail('worker'));
    await start('worker');
    lines.push(`worker: exit 0 ${seconds(sent)} after SIGTERM; until the new one was ready: ${describeBetween(tallyBetween(load.tally, sent, Date.now()))}`);
    await runFor(3000);

    // The projector: commits the batch it holds, releases every lease, exits 0.
    sent = Date.now();
    const projector = await terminate('projector');
    assert.deepEqual(projector, { code: 0, signal: null }, `the projector exits 0 by itself:\n${tail('projector')}`);
    for (const projection of projections) {
      // Released, not left to expire: a standby (or the next instance) takes over at once.
      assert.equal(await redis.exists(projectionKeys(config.REDIS_PREFIX, projection.name).lease), 0, `${projection.name}'s lease released`);
    }
    await start('projector');
    lines.push(`projector: exit 0 ${seconds(sent)} after SIGTERM, every lease released; until the new one was ready: ${describeBetween(tallyBetween(load.tally, sent, Date.now()))}`);
    await runFor(3000);

    // The API: refuses new requests, answers those in flight, ends live subscriptions, exits 0.
    const { response: subscription, ended: streamEnded } = await openAccountStream(`http://127.0.0.1:${config.API_PORT}`, load.hotAccount);
    assert.match(subscription.headers.get('content-type') ?? '', /text\/event-stream/);
    const beforeApi = acknowledged();
    sent = Date.now();
    const api = await terminate('api');
    const answeredWhileDraining = acknowledged() - beforeApi;
    assert.deepEqual(api, { code: 0, signal: null }, `the API exits 0 by itself:\n${tail('api')}`);
    assert.ok(answeredWhileDraining > 0, 'requests in flight at SIGTERM were answered');
    await streamEnded;
    const apiExited = Date.now();
    await start('api');
    lines.push(
      `api: exit 0 ${seconds(sent)} after SIGTERM, ${answeredWhileDraining} command(s) acknowledged between SIGTERM and exit, its subscription ended; ` +
        `until the new one listened: ${describeBetween(tallyBetween(load.tally, apiExited, Date.now()))}`,
    );
    await runFor(3000);

    await load.stop();
    const report = await audit({ temporal, readModels, rabbit, config }, 'sigterm', load);
    console.log([...lines, describeReport(report)].join('\n'));
    assertAccounted(report);
    assert.deepEqual(
      Object.fromEntries(Object.entries(roles).map(([name, role]) => [name, role.crashes])),
      { worker: 0, projector: 0, api: 0 },
      'no process ended unasked',
    );
  });
});
