/**
 * Test stacks on the real services: a Temporal dev server of the test's own (free port, in
 * memory), and RabbitMQ and Redis isolated by names and key prefixes unique to the run.
 */
import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createTRPCClient, httpLink } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import type { AppRouter } from '../../examples/shop/ledgerflow.config';
import type { LedgerRouter } from './domains/ledger.config';
import { startApiServer, type ApiServer } from '../../api/server';
import { createAggregateWorker, type AggregateWorker } from '../../bin/worker';
import { loadConfig, type Config } from '../../core/config';
import { projectionsOf } from '../../core/app';
import type { LoadedApp } from '../../infra/app-loader';
import { loadLedger, loadShop, shopConfigPath } from './apps';
import { createLogger } from '../../infra/logger';
import { freePort } from '../../infra/net';
import { connectRabbit, declareTopology, topologyOf } from '../../infra/rabbit';
import { closeRedis, createRedis, type Redis } from '../../infra/redis';
import { connectTemporal } from '../../infra/temporal';
import { startTemporalDevServer, type DevServer } from '../../infra/temporal-dev-server';
import type { Client } from '@temporalio/client';
import type { Connection } from 'rabbitmq-client';
import type { AnyProjection } from '../../core/projection';
import { startPaymentGateway, type PaymentGateway } from '../../examples/shop/payments/gateway';
import { startProjector, type Projector, type ProjectorOptions } from '../../projectors/runtime';
import { createReadModels, type ReadModels } from '../../projectors/store';

let runtimeInstalled = false;
function quietTemporalRuntime() {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('WARN') });
}

export { freePort };

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** What one test run owns, so runs never meet: its task queue, exchange, stream and Redis key prefix. */
export const isolatedNames = (run: string) => ({
  TEMPORAL_TASK_QUEUE: `ledgerflow-${run}`,
  EVENTS_EXCHANGE: `ledgerflow.test.${run}`,
  EVENTS_STREAM: `ledgerflow.test.${run}.log`,
  REDIS_PREFIX: `lftest:${run}`,
});

export const uniqueId = (label = 'run') => `${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

export interface TestStackOptions {
  worker?: boolean;
  projector?: boolean;
  api?: boolean;
  dynamicConfig?: Record<string, unknown>;
  env?: Record<string, string>;
  /** The app the stack runs (the shop by default). */
  app?: LoadedApp;
  /** Projections the projector runs (the app's by default). */
  projections?: readonly AnyProjection[];
  projectorOptions?: ProjectorOptions;
}

export interface TestStack<Router extends AnyTRPCRouter = AppRouter> {
  app: LoadedApp;
  config: Config;
  /** The stand-in payment gateway the checkout process charges (its behavior can be changed). */
  payments: PaymentGateway;
  temporalServer: DevServer;
  temporal: Client;
  redis: Redis;
  rabbit: Connection;
  readModels: ReadModels;
  worker?: AggregateWorker;
  projector?: Projector;
  api?: ApiServer;
  trpc: ReturnType<typeof createTRPCClient<Router>>;
  startWorker(): Promise<AggregateWorker>;
  startProjector(options?: ProjectorOptions): Projector;
  stop(): Promise<void>;
}

/** A stack running the engine's own test domain (the ledger); `trpc` is typed by its router. */
export type LedgerStack = TestStack<LedgerRouter>;

export async function startLedgerStack(options: Omit<TestStackOptions, 'app'> = {}): Promise<LedgerStack> {
  return (await startTestStack({ ...options, app: await loadLedger() })) as unknown as LedgerStack;
}

export async function startTestStack(options: TestStackOptions = {}): Promise<TestStack> {
  quietTemporalRuntime();
  const run = uniqueId('lf');
  const temporalServer = await startTemporalDevServer({ port: await freePort(), dynamicConfig: options.dynamicConfig });
  const payments = await startPaymentGateway();
  const app = options.app ?? (await loadShop());
  const config = loadConfig({
    TEMPORAL_ADDRESS: temporalServer.address,
    ...isolatedNames(run),
    API_PORT: '0',
    LOG_LEVEL: process.env.LF_TEST_LOG ?? 'warn',
    ...options.env,
  });
  const log = createLogger('test', config.LOG_LEVEL);
  const temporal = await connectTemporal(config);
  const redis = createRedis(config.REDIS_URL, 'ledgerflow-test');
  await redis.connect();
  const projectorRedis = createRedis(config.REDIS_URL, 'ledgerflow-test-projector');
  await projectorRedis.connect();
  const rabbit = connectRabbit(config, 'test', log);
  await declareTopology(rabbit, topologyOf(config));

  const stack: TestStack = {
    app,
    config,
    payments,
    temporalServer,
    temporal,
    redis,
    rabbit,
    readModels: createReadModels(redis, config.REDIS_PREFIX),
    trpc: undefined as never,
    async startWorker() {
      const worker = await createAggregateWorker(app, config, { env: { ...process.env, PAYMENT_GATEWAY_URL: payments.url } });
      void worker.run();
      stack.worker = worker;
      return worker;
    },
    startProjector(overrides?: ProjectorOptions) {
      stack.projector = startProjector(
        { redis: projectorRedis, rabbit, topology: topologyOf(config), prefix: config.REDIS_PREFIX, log },
        options.projections ?? projectionsOf(app.config),
        { batchSize: 200, tickMs: 500, leaseMs: 3000, ...options.projectorOptions, ...overrides },
      );
      return stack.projector;
    },
    async stop() {
      await stack.api?.close(1000);
      await stack.projector?.stop();
      await stack.worker?.shutdown();
      await temporal.connection.close();
      await temporalServer.stop();
      await removeRunData(rabbit, redis, config);
      await rabbit.close();
      await Promise.allSettled([closeRedis(redis), closeRedis(projectorRedis), payments.close()]);
    },
  };

  try {
    if (options.worker !== false) await stack.startWorker();
    if (options.projector !== false) stack.startProjector();
    if (options.api !== false) {
      stack.api = await startApiServer(app.config, config, log, { projections: options.projections });
      stack.trpc = createTRPCClient<AppRouter>({ links: [httpLink({ url: `${stack.api.url}/trpc` })] });
    }
  } catch (error) {
    await stack.stop();
    throw error;
  }
  return stack;
}

/**
 * The stack's configuration as environment variables, for a process of its own (worker,
 * projector, API, CLI): the shop's config unless `extra` names another LEDGERFLOW_CONFIG
 * (`{ LEDGERFLOW_CONFIG: stack.app.path }` for the stack's own app).
 */
export function envOf(config: Config, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const item = (value: unknown) => (typeof value === 'object' && value !== null && 'role' in value && 'token' in value ? `${value.role}:${value.token}` : String(value));
  const vars = Object.entries(config).map(([key, value]) => [key, Array.isArray(value) ? value.map(item).join(',') : String(value ?? '')]);
  return { ...process.env, LEDGERFLOW_CONFIG: shopConfigPath, ...Object.fromEntries(vars), ...extra };
}

/** Deletes what a test run leaves in RabbitMQ and Redis: its stream, its exchange and its keys. */
export async function removeRunData(rabbit: Connection | undefined, redis: Redis | undefined, names: Pick<Config, 'EVENTS_STREAM' | 'EVENTS_EXCHANGE' | 'REDIS_PREFIX'>): Promise<void> {
  await rabbit?.queueDelete({ queue: names.EVENTS_STREAM }).catch(() => {});
  await rabbit?.exchangeDelete({ exchange: names.EVENTS_EXCHANGE }).catch(() => {});
  if (redis) await deleteKeys(redis, `${names.REDIS_PREFIX}:*`);
}

/** The same with connections of its own, for a run whose processes had theirs. */
export async function removeRunDataOf(config: Config): Promise<void> {
  const rabbit = connectRabbit(config, 'test-cleanup', createLogger('test', 'silent'));
  const redis = createRedis(config.REDIS_URL, 'test-cleanup');
  try {
    await redis.connect();
    await removeRunData(rabbit, redis, config);
  } finally {
    await rabbit.close();
    await closeRedis(redis);
  }
}

export async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  for await (const keys of redis.scanIterator({ MATCH: pattern, COUNT: 500 })) {
    if (keys.length) await redis.del(keys);
  }
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
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
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
