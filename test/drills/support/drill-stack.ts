/**
 * A stack the drills own end to end, so they can break any part of it: a Temporal dev server
 * on a SQLite file (it survives a restart), a RabbitMQ node and a redis-server of their own,
 * and the worker, projector and API as processes of their own, as deployed, running the
 * engine's test domain with its account statements (the audited ledger).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { Connection } from 'rabbitmq-client';
import { loadConfig, type Config } from '../../../core/config';
import { connectRabbit } from '../../../infra/rabbit';
import { closeRedis, createRedis, type Redis } from '../../../infra/redis';
import { connectTemporal } from '../../../infra/temporal';
import { startTemporalDevServer, type DevServer } from '../../../infra/temporal-dev-server';
import { createReadModels, type ReadModels } from '../../../projectors/store';
import { ownRabbit, type OwnRabbit } from '../../support/rabbit-server';
import { ownRedis, type OwnRedis } from '../../support/redis-server';
import { testAppPath } from '../../support/apps';
import { envOf, freePort, listening, uniqueId } from '../../support/stack';

const root = join(__dirname, '..', '..', '..');

export interface Role {
  readonly name: 'worker' | 'projector' | 'api';
  child?: ChildProcess;
  /** Exits this process did not ask for (a crash). */
  crashes: number;
  /** The last lines it wrote, for a failure message. */
  tail: string[];
}

export interface DrillStack {
  config: Config;
  apiUrl: string;
  temporal: Client;
  rabbit: Connection;
  redis: Redis;
  readModels: ReadModels;
  roles: Record<Role['name'], Role>;
  broker: OwnRabbit;
  redisServer: OwnRedis;
  start(role: Role['name']): Promise<void>;
  kill(role: Role['name']): Promise<void>;
  restartTemporal(): Promise<void>;
  stop(): Promise<void>;
}

/** `env`: settings over the drill's own (e.g. the API's bounds raised for a drill). */
export async function startDrillStack(options: { env?: Record<string, string> } = {}): Promise<DrillStack> {
  const run = uniqueId('drill');
  const dir = mkdtempSync(join(tmpdir(), 'ledgerflow-drill-'));
  const temporalPort = await freePort();
  const dbFile = join(dir, 'temporal.db');
  let temporalServer: DevServer = await startTemporalDevServer({ port: temporalPort, dbFile });
  const [broker, redisServer] = await Promise.all([ownRabbit(), ownRedis()]);
  const config = loadConfig({
    TEMPORAL_ADDRESS: temporalServer.address,
    TEMPORAL_TASK_QUEUE: `ledgerflow-${run}`,
    RABBITMQ_URL: broker.url,
    REDIS_URL: redisServer.url,
    EVENTS_EXCHANGE: `ledgerflow.${run}`,
    EVENTS_STREAM: `ledgerflow.${run}.log`,
    REDIS_PREFIX: `lfdrill:${run}`,
    API_PORT: String(await freePort()),
    COMMAND_TIMEOUT_MS: '5000',
    LOG_LEVEL: 'warn',
    ...options.env,
  });
  // Operations endpoints on ports of their own: another stack on the machine may hold the defaults.
  const env = envOf(config, {
    LEDGERFLOW_CONFIG: testAppPath('audited'),
    WORKER_METRICS_PORT: String(await freePort()),
    PROJECTOR_METRICS_PORT: String(await freePort()),
    WORKER_SDK_METRICS_PORT: '0',
  });
  const roles: Record<Role['name'], Role> = {
    worker: { name: 'worker', crashes: 0, tail: [] },
    projector: { name: 'projector', crashes: 0, tail: [] },
    api: { name: 'api', crashes: 0, tail: [] },
  };
  const killed = new Set<ChildProcess>();

  const start = async (name: Role['name']) => {
    const role = roles[name];
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bin', `${name}.ts`)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      role.tail.push(...chunk.toString().split('\n').filter(Boolean));
      role.tail.splice(0, Math.max(0, role.tail.length - 30));
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.once('exit', () => {
      if (!killed.has(child)) role.crashes += 1;
    });
    role.child = child;
    if (name === 'api') {
      const port = config.API_PORT;
      for (let i = 0; i < 600 && !(await listening(port)); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const kill = async (name: Role['name']) => {
    const child = roles[name].child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    killed.add(child);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };

  await Promise.all([start('worker'), start('projector'), start('api')]);
  const temporal = await connectTemporal(config);
  const rabbit = connectRabbit(config, 'drill');
  const redis = createRedis(config.REDIS_URL, 'drill');
  await redis.connect();

  return {
    config,
    apiUrl: `http://127.0.0.1:${config.API_PORT}`,
    temporal,
    rabbit,
    redis,
    readModels: createReadModels(redis, config.REDIS_PREFIX),
    roles,
    broker,
    redisServer,
    start,
    kill,
    async restartTemporal() {
      await temporalServer.stop();
      temporalServer = await startTemporalDevServer({ port: temporalPort, dbFile });
    },
    async stop() {
      await Promise.all((['api', 'projector', 'worker'] as const).map(kill));
      await Promise.allSettled([temporal.connection.close(), rabbit.close(), closeRedis(redis)]);
      await Promise.allSettled([temporalServer.stop(), broker.destroy(), redisServer.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
