/**
 * `ledgerflow/testing/stack`: an app's whole stack for its own e2e tests, on the real services.
 * A Temporal dev server of the stack's own (or one the test names), RabbitMQ and Redis under
 * names unique to the run, and the app's worker, projector and API in this process; `stop()`
 * removes everything the run created.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createTRPCClient, httpLink, type TRPCClient, type TRPCLink } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import type { Connection } from 'rabbitmq-client';
import { startApiServer, type ApiServer } from '../api/server';
import { createAggregateWorker, type AggregateWorker } from '../bin/worker';
import { engineScript, findTemporalCli, missingTemporalCli } from '../cli/dev';
import { ConfigError, projectionsOf } from '../core/app';
import { loadConfig, type Config } from '../core/config';
import type { AnyProjection } from '../core/projection';
import { loadApp, type LoadedApp } from '../infra/app-loader';
import { sleep } from '../infra/deadline';
import { createLogger } from '../infra/logger';
import { freePort } from '../infra/net';
import { connectRabbit, declareTopology, topologyOf } from '../infra/rabbit';
import { closeRedis, createRedis, type Redis } from '../infra/redis';
import { connectTemporal } from '../infra/temporal';
import { startTemporalDevServer, type DevServer } from '../infra/temporal-dev-server';
import { startProjector, type Projector, type ProjectorOptions } from '../projectors/runtime';

export interface TestStackOptions {
  /** The app: its config file (default `./ledgerflow.config.ts`, from the working directory) or one `loadApp` loaded. */
  config?: string | LoadedApp;
  /** Run the worker, the projector, the API in this process (each true by default). */
  worker?: boolean;
  projector?: boolean;
  api?: boolean;
  /**
   * Settings (`TEMPORAL_NAMESPACE`, `COMMAND_TIMEOUT_MS`, `LOG_LEVEL`, ...) over the stack's, and
   * what the app's activities read (`env` of its activity factory) over `process.env`.
   */
  env?: Record<string, string | undefined>;
  /** A running Temporal server (`host:port`, its search attributes registered) instead of a dev server of the stack's own. */
  temporal?: string;
  /** Dynamic config of the stack's own dev server, e.g. `{ 'limit.historyCount.suggestContinueAsNew': 200 }`. */
  dynamicConfig?: Record<string, unknown>;
  /** The projections the projector runs and the API waits for (the app's by default). */
  projections?: readonly AnyProjection[];
  projectorOptions?: ProjectorOptions;
}

/** The worker as a process of its own (`ledgerflow worker`), for a test that crashes it. */
export interface WorkerProcess {
  child: ChildProcess;
  /** Sends `signal` (SIGTERM by default) unless it has exited, and resolves once it has. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface TestStack<Router extends AnyTRPCRouter = AnyTRPCRouter> {
  app: LoadedApp;
  /** The run's settings: its task queue, exchange, stream and Redis prefix are its own. */
  settings: Config;
  /** The settings as environment variables (and LEDGERFLOW_CONFIG): for a `ledgerflow` process or script of the test's. */
  env: NodeJS.ProcessEnv;
  /** The API's address (`http://127.0.0.1:<port>`; tRPC at `${url}/trpc`). */
  readonly url: string;
  /** A typed tRPC client of the API. */
  readonly trpc: TRPCClient<Router>;
  temporal: Client;
  /** A client of the Redis the read models are in (their keys start with `settings.REDIS_PREFIX`). */
  redis: Redis;
  /** What runs in this process now. */
  worker?: AggregateWorker;
  projector?: Projector;
  api?: ApiServer;
  startWorker(): Promise<AggregateWorker>;
  stopWorker(): Promise<void>;
  startProjector(options?: ProjectorOptions): Projector;
  /** Starts a worker process and resolves once it polls its task queue (stopped by `stop()` if still running). */
  spawnWorker(env?: NodeJS.ProcessEnv): Promise<WorkerProcess>;
  stop(): Promise<void>;
}

/** What one run owns, so runs never meet: its task queue, exchange, stream and Redis key prefix. */
export const isolatedNames = (run: string) => ({
  TEMPORAL_TASK_QUEUE: `ledgerflow-${run}`,
  EVENTS_EXCHANGE: `ledgerflow.test.${run}`,
  EVENTS_STREAM: `ledgerflow.test.${run}.log`,
  REDIS_PREFIX: `lftest:${run}`,
});

export const uniqueId = (label = 'run') => `${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs` with the last error. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000, label = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${label} not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await sleep(50);
  }
}

/** Settings as environment variables, as `loadConfig` reads them back (tokens as `role:token`). */
export function envOfSettings(settings: Config): Record<string, string> {
  const item = (value: unknown) => (typeof value === 'object' && value !== null && 'role' in value && 'token' in value ? `${value.role}:${value.token}` : String(value));
  return Object.fromEntries(Object.entries(settings).map(([key, value]) => [key, Array.isArray(value) ? value.map(item).join(',') : String(value ?? '')]));
}

/** Deletes what a run leaves in RabbitMQ and Redis: its stream, its exchange and its keys. */
export async function removeRunData(rabbit: Connection | undefined, redis: Redis | undefined, names: Pick<Config, 'EVENTS_STREAM' | 'EVENTS_EXCHANGE' | 'REDIS_PREFIX'>): Promise<void> {
  await rabbit?.queueDelete({ queue: names.EVENTS_STREAM }).catch(() => {});
  await rabbit?.exchangeDelete({ exchange: names.EVENTS_EXCHANGE }).catch(() => {});
  if (redis) await deleteKeys(redis, `${names.REDIS_PREFIX}:*`);
}

export async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  for await (const keys of redis.scanIterator({ MATCH: pattern, COUNT: 500 })) {
    if (keys.length) await redis.del(keys);
  }
}

/** Temporal's SDK logs at WARN in tests, unless the process installed its own runtime first. */
function quietTemporalRuntime() {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // installed already (by this function or by the app): keep it
  }
}

/** Node's arguments for an engine process, run the way this module runs (from source: through tsx). */
const engineEntry = (name: 'worker') => {
  const script = engineScript(name);
  return [...(script.endsWith('.ts') ? ['--import', 'tsx'] : []), script];
};

async function startOwnTemporal(options: TestStackOptions): Promise<DevServer> {
  const binary = findTemporalCli();
  if (!binary) throw new ConfigError(`${missingTemporalCli()}\n(startTestStack runs a dev server of its own with that CLI, or uses the server its \`temporal\` option names.)`);
  return startTemporalDevServer({ port: await freePort(), dynamicConfig: options.dynamicConfig, binary });
}

/**
 * Starts an app's stack for a test: `trpc` is typed by the router type given
 * (`startTestStack<AppRouter>(...)`, `AppRouter = RouterOf<typeof config>`).
 */
export async function startTestStack<Router extends AnyTRPCRouter = AnyTRPCRouter>(options: TestStackOptions = {}): Promise<TestStack<Router>> {
  const app = typeof options.config === 'object' ? options.config : await loadApp(options.config);
  quietTemporalRuntime();
  const run = uniqueId('lf');
  const temporalServer = options.temporal ? undefined : await startOwnTemporal(options);
  // Where the services are comes from the environment (local defaults); everything else is the run's own.
  const settings = loadConfig({
    RABBITMQ_URL: process.env.RABBITMQ_URL,
    REDIS_URL: process.env.REDIS_URL,
    TEMPORAL_ADDRESS: options.temporal ?? temporalServer!.address,
    ...isolatedNames(run),
    API_PORT: '0',
    LOG_LEVEL: 'warn',
    ...options.env,
  });
  const activityEnv = { ...process.env, ...options.env };
  const log = createLogger('test-stack', settings.LOG_LEVEL);
  const opened: { rabbit?: Connection; redis?: Redis; projectorRedis?: Redis; temporal?: Client } = {};
  const processes = new Set<WorkerProcess>();
  const projections = options.projections ?? projectionsOf(app.config);

  const release = async () => {
    await opened.temporal?.connection.close();
    await temporalServer?.stop();
    await removeRunData(opened.rabbit, opened.redis, settings);
    await opened.rabbit?.close();
    await Promise.allSettled([opened.redis && closeRedis(opened.redis), opened.projectorRedis && closeRedis(opened.projectorRedis)]);
  };

  try {
    opened.temporal = await connectTemporal(settings);
    opened.redis = createRedis(settings.REDIS_URL, 'ledgerflow-test');
    await opened.redis.connect();
    opened.projectorRedis = createRedis(settings.REDIS_URL, 'ledgerflow-test-projector');
    await opened.projectorRedis.connect();
    opened.rabbit = connectRabbit(settings, 'test', log);
    await declareTopology(opened.rabbit, topologyOf(settings));
  } catch (error) {
    await release();
    throw error;
  }
  const { rabbit, projectorRedis } = opened as Required<typeof opened>;
  let trpc: TRPCClient<Router> | undefined;

  const stack: TestStack<Router> = {
    app,
    settings,
    // A process a test starts with it binds its operations endpoint to a free port, not the default 9464/9465 another process may hold.
    env: { ...process.env, ...envOfSettings(settings), WORKER_METRICS_PORT: '0', PROJECTOR_METRICS_PORT: '0', WORKER_SDK_METRICS_PORT: '0', LEDGERFLOW_CONFIG: app.path, ...options.env },
    get url() {
      if (!stack.api) throw new ConfigError('this test stack runs no API (api: false)');
      return stack.api.url;
    },
    get trpc() {
      if (!trpc) {
        // Plain JSON, no transformer: the link is the same for every app's router, built untyped.
        const link: TRPCLink<AnyTRPCRouter> = httpLink({ url: `${stack.url}/trpc` });
        trpc = createTRPCClient<Router>({ links: [link as unknown as TRPCLink<Router>] });
      }
      return trpc;
    },
    temporal: opened.temporal,
    redis: opened.redis,
    async startWorker() {
      const worker = await createAggregateWorker(app, settings, { env: activityEnv });
      void worker.run();
      stack.worker = worker;
      return worker;
    },
    async stopWorker() {
      const worker = stack.worker;
      stack.worker = undefined;
      await worker?.shutdown();
    },
    startProjector(overrides?: ProjectorOptions) {
      stack.projector = startProjector(
        { redis: projectorRedis, rabbit, topology: topologyOf(settings), prefix: settings.REDIS_PREFIX, log },
        projections,
        { batchSize: 200, tickMs: 500, leaseMs: 3000, ...options.projectorOptions, ...overrides },
      );
      return stack.projector;
    },
    async spawnWorker(env = {}) {
      const metricsPort = await freePort();
      const child = spawn(process.execPath, engineEntry('worker'), {
        env: { ...stack.env, WORKER_METRICS_PORT: String(metricsPort), WORKER_SDK_METRICS_PORT: '', ...env },
        stdio: 'ignore',
      });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const running = () => child.exitCode === null && child.signalCode === null;
      const handle: WorkerProcess = {
        child,
        async kill(signal = 'SIGTERM') {
          if (running()) child.kill(signal);
          await exited;
          processes.delete(handle);
        },
      };
      processes.add(handle);
      await eventually(async () => {
        if (!running()) throw new Error(`the worker process exited (${child.exitCode ?? child.signalCode})`);
        return (await fetch(`http://127.0.0.1:${metricsPort}/health/ready`).catch(() => undefined))?.ok ? true : undefined;
      }, 120_000, 'worker process ready').catch(async (error: unknown) => {
        await handle.kill('SIGKILL');
        throw error;
      });
      return handle;
    },
    async stop() {
      await stack.api?.close(1000);
      await stack.projector?.stop();
      await stack.worker?.shutdown();
      await Promise.all([...processes].map((p) => p.kill('SIGTERM')));
      await release();
    },
  };

  try {
    if (options.worker !== false) await stack.startWorker();
    if (options.projector !== false) stack.startProjector();
    if (options.api !== false) stack.api = await startApiServer(app.config, settings, log, { projections: options.projections });
  } catch (error) {
    await stack.stop();
    throw error;
  }
  return stack;
}
