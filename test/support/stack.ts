/**
 * The engine's test stacks: the public one (`ledgerflow/testing/stack`: a Temporal dev server of
 * the test's own, RabbitMQ and Redis isolated by names unique to the run) with the handles the
 * engine's tests reach for (RabbitMQ, the read models), running the engine's test domains.
 */
import { createConnection } from 'node:net';
import type { AnyTRPCRouter } from '@trpc/server';
import type { Connection } from 'rabbitmq-client';
import type { LedgerRouter } from './domains/ledger.config';
import type { Config } from '../../core/config';
import type { LoadedApp } from '../../infra/app-loader';
import { ledgerConfigPath, loadLedger } from './apps';
import { createLogger } from '../../infra/logger';
import { freePort } from '../../infra/net';
import { connectRabbit } from '../../infra/rabbit';
import { closeRedis, createRedis } from '../../infra/redis';
import { createReadModels, type ReadModels } from '../../projectors/store';
import {
  envOfSettings,
  removeRunData,
  startTestStack as startPublicStack,
  type TestStack as PublicTestStack,
  type TestStackOptions as PublicTestStackOptions,
} from '../../testing/stack';

export { deleteKeys, eventually, isolatedNames, removeRunData, uniqueId } from '../../testing/stack';
export { freePort };

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

export interface TestStackOptions extends Omit<PublicTestStackOptions, 'config' | 'temporal' | 'env'> {
  env?: Record<string, string>;
  /** The app the stack runs: the ledger or one of its test releases (test/support/domains). */
  app: LoadedApp;
}

export interface TestStack<Router extends AnyTRPCRouter = LedgerRouter> extends PublicTestStack<Router> {
  /** The run's settings (the public stack's `settings`). */
  config: Config;
  rabbit: Connection;
  readModels: ReadModels;
}

/** A stack running the engine's own test domain (the ledger); `trpc` is typed by its router. */
export type LedgerStack = TestStack<LedgerRouter>;

export async function startLedgerStack(options: Omit<TestStackOptions, 'app'> = {}): Promise<LedgerStack> {
  return startTestStack<LedgerRouter>({ ...options, app: await loadLedger() });
}

export async function startTestStack<Router extends AnyTRPCRouter = LedgerRouter>(options: TestStackOptions): Promise<TestStack<Router>> {
  const { app, env, ...rest } = options;
  const stack = await startPublicStack<Router>({ ...rest, config: app, env: { LOG_LEVEL: process.env.LF_TEST_LOG ?? 'warn', ...env } });
  const rabbit = connectRabbit(stack.settings, 'test', createLogger('test', stack.settings.LOG_LEVEL));
  const stopPublic = stack.stop;
  return Object.assign(stack, {
    config: stack.settings,
    rabbit,
    readModels: createReadModels(stack.redis, stack.settings.REDIS_PREFIX),
    async stop() {
      await stopPublic();
      await rabbit.close();
    },
  });
}

/**
 * The stack's configuration as environment variables, for a process of its own (worker,
 * projector, API, CLI): the ledger's config unless `extra` names another LEDGERFLOW_CONFIG
 * (`{ LEDGERFLOW_CONFIG: stack.app.path }` for the stack's own app). The worker's and the
 * projector's operations endpoints take free ports unless `extra` names them: another process on
 * the machine may hold the defaults (9464, 9465), and a process that cannot bind exits.
 */
export function envOf(config: Config, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const freePorts = { WORKER_METRICS_PORT: '0', PROJECTOR_METRICS_PORT: '0', WORKER_SDK_METRICS_PORT: '0' };
  return { ...process.env, LEDGERFLOW_CONFIG: ledgerConfigPath, ...envOfSettings(config), ...freePorts, ...extra };
}

/** `removeRunData` with connections of its own, for a run whose processes had theirs. */
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

/**
 * A live subscription to an account's changes over plain SSE (as a browser's EventSource opens
 * it); `ended` resolves once the server ends the stream (a client would then resume elsewhere
 * from its lastEventId).
 */
export async function openAccountStream(apiUrl: string, accountId: string): Promise<{ response: Response; ended: Promise<void> }> {
  const response = await fetch(`${apiUrl}/trpc/account.onChange?input=${encodeURIComponent(JSON.stringify({ accountId }))}`, { headers: { accept: 'text/event-stream' } });
  const ended = (async () => {
    try {
      for await (const _ of response.body!) void _;
    } catch {
      // a stream cut off ends too
    }
  })();
  return { response, ended };
}
