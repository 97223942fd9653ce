/** The aggregate worker: runs every aggregate workflow and the publish activity. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { NativeConnection, Runtime, Worker, bundleWorkflowCode, makeTelemetryFilterString, type WorkerOptions } from '@temporalio/worker';

type WebpackConfiguration = Parameters<NonNullable<NonNullable<WorkerOptions['bundlerOptions']>['webpackConfigHook']>>[0];
import { createActivities } from '../activities';
import { createProjectedHeads } from '../activities/heads';
import { createAggregateLookup } from '../activities/lookups';
import { createCommandBus } from '../commands/bus';
import { freePort } from '../infra/net';
import { connectTemporal } from '../infra/temporal';
import { aggregatesOf, projectionsOf } from '../core/app';
import { loadConfig, type Config } from '../core/config';
import { loadApp, workflowEntryOf, type LoadedApp } from '../infra/app-loader';
import { createLogger, temporalLogger, type Logger } from '../infra/logger';
import { createWorkerMetrics, processRegistry, type WorkerMetrics } from '../infra/metrics';
import { scrape, startOpsServer, type ReadinessChecks } from '../infra/ops-server';
import { connectRabbit, createEventPublisher, topologyOf } from '../infra/rabbit';
import { closeRedis, createRedis } from '../infra/redis';
import { assertSearchAttributes } from '../infra/setup';
import { workerTracing, workflowTracingModule } from '../infra/temporal-tracing';
import { startTracing } from '../infra/tracing-sdk';
import { stopTracing } from '../infra/tracing';
import { runMain } from './main';

/** Where `ledgerflow build` writes the workflows with Temporal's OpenTelemetry interceptors, run while tracing is on. */
export const tracedBundlePathOf = (bundlePath: string) => bundlePath.replace(/(\.js)?$/, '.traced.js');

const silentLog = { info() {}, warn() {}, error() {} };

/** How long a run at version 0 waits to learn whether its aggregate has events before deciding it as new. */
const headCheckMs = 1_000;

export interface AggregateWorker {
  worker: Worker;
  /** Resolves when the worker has stopped. */
  run(): Promise<void>;
  shutdown(): Promise<void>;
  /** For /health/ready: polling its task queue, and connected to RabbitMQ. */
  readiness(): ReadinessChecks;
}

export interface AggregateWorkerOptions {
  /**
   * A workflow bundle built ahead of time by `ledgerflow build` (for production images); without
   * one the worker bundles the app's workflows as it starts, so it never runs a stale bundle.
   */
  workflowBundlePath?: string;
  log?: Logger;
  /** Where the activities count decisions and publishing (none by default). */
  metrics?: WorkerMetrics;
  /** The environment the app's activity factory reads its own settings from (process.env by default). */
  env?: NodeJS.ProcessEnv;
}

/** The options Temporal's bundler takes for an app: its generated entry, modules to leave out, zod loaded once. */
export function bundleOptionsOf(app: LoadedApp) {
  const { workflowsPath, ignoreModules } = workflowEntryOf(app);
  // Run from source (tsx, this repository's tests), `ledgerflow` resolves to its sources, as it does for Node.
  const fromSource = __filename.endsWith('.ts');
  // One zod in the bundle, the app's ES build (the engine's if the app has none). Without the
  // alias a compiled engine's require('zod') and the app's import resolve to zod's CommonJS and
  // ES builds: two copies, and the one not preloaded evaluated again for every workflow.
  const zodPackage = require.resolve('zod/package.json', { paths: [dirname(app.path), __dirname] });
  const zodModule = (require(zodPackage) as { module?: string }).module;
  const zod = zodModule ? join(dirname(zodPackage), zodModule) : require.resolve('zod', { paths: [dirname(app.path), __dirname] });
  const webpackConfigHook = (config: WebpackConfiguration): WebpackConfiguration => ({
    ...config,
    resolve: {
      ...config.resolve,
      alias: { ...(config.resolve?.alias as Record<string, string> | undefined), zod$: zod },
      ...(fromSource && { conditionNames: ['ledgerflow-source', '...'] }),
    },
  });
  // zod's code is evaluated once per worker rather than once per workflow (workflows/zod-preload.ts).
  // Nothing more is shared: Temporal freezes what is preloaded, and zod schemas fill parts of
  // themselves lazily, so an app's schemas built at preload broke replay (tried).
  const preloadModules = [require.resolve('../workflows/zod-preload')];
  return { workflowsPath, bundlerOptions: { ignoreModules, preloadModules, webpackConfigHook } };
}

/** The app's workflows failed to bundle: webpack's own report of why is the message. */
export class WorkflowBundleError extends Error {
  override name = 'WorkflowBundleError';
}

/**
 * Bundles the app's workflows (with tracing's workflow interceptors when `traced`). When webpack
 * fails, its own report (which module, which line) is the error's message: Temporal's bundler
 * would only log it, and say "Webpack finished with errors".
 */
export async function bundleApp(app: LoadedApp, options: { traced?: boolean; log?: Logger } = {}): Promise<{ code: string }> {
  const { workflowsPath, bundlerOptions } = bundleOptionsOf(app);
  const reports: string[] = [];
  const note = (level: 'debug' | 'info' | 'warn') => (message: string, meta?: Record<string, unknown>) => options.log?.[level](meta ?? {}, message);
  const logger = { log: (_level: string, message: string) => note('debug')(message), trace: note('debug'), debug: note('debug'), info: note('debug'), warn: note('warn'), error: (message: string) => void reports.push(message) };
  try {
    return await bundleWorkflowCode({ workflowsPath, ...bundlerOptions, workflowInterceptorModules: options.traced ? [workflowTracingModule] : [], logger });
  } catch (error) {
    // webpack's summary of what it built comes first; its errors are what a reader needs.
    const full = reports.join('\n');
    const report = (full.includes('ERROR in') ? full.slice(full.indexOf('ERROR in')) : full).trim();
    throw new WorkflowBundleError(`the workflows of ${app.path} failed to bundle${report ? `:\n${report}` : `: ${error instanceof Error ? error.message : String(error)}`}`, { cause: error });
  }
}

/** Runs an app's aggregates, its processes and the activities they call, on the task queue of `config`. */
export async function createAggregateWorker(app: LoadedApp, config: Config, options: AggregateWorkerOptions = {}): Promise<AggregateWorker> {
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  // Without its search attributes every workflow task fails: refuse to start and say what fixes it.
  await assertSearchAttributes(connection.operatorService, config, options.log).catch(async (error: unknown) => {
    await connection.close();
    throw error;
  });
  const rabbit = connectRabbit(config, 'worker', options.log);
  const publisher = createEventPublisher(rabbit, topologyOf(config));
  // A client of its own for what activities ask of Temporal: lookups and processes' commands.
  const temporal = await connectTemporal(config);
  const bus = createCommandBus(temporal, {
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    timeoutMs: config.COMMAND_TIMEOUT_MS,
    commandIdRetentionMs: config.COMMAND_ID_RETENTION_HOURS * 3_600_000,
  });
  // Where a run at version 0 checks that its aggregate has no events (its history may be gone).
  // Fails fast while Redis is away: the check then lets the run decide as new.
  const redis = createRedis(config.REDIS_URL, 'worker-heads', options.log, { failFast: true });
  redis.connect().catch((error: unknown) => options.log?.warn({ err: error }, 'redis (aggregate heads) not reachable yet; reconnecting'));
  const heads = createProjectedHeads(redis, config.REDIS_PREFIX, projectionsOf(app.config), headCheckMs);
  // Tracing's workflow interceptors are bundled only while tracing is on: off, workflows run without them.
  const tracing = workerTracing();
  const prebuilt = options.workflowBundlePath && (tracing ? tracedBundlePathOf(options.workflowBundlePath) : options.workflowBundlePath);
  if (prebuilt && !existsSync(prebuilt)) throw new Error(`no workflow bundle at ${prebuilt}: run ledgerflow build`);
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    workflowBundle: prebuilt ? { codePath: prebuilt } : await bundleApp(app, { traced: tracing !== undefined, log: options.log }),
    ...(tracing && { interceptors: { activity: tracing.activity }, sinks: tracing.sinks }),
    activities: {
      ...app.config.activities({ log: options.log ?? silentLog, env: options.env ?? process.env }),
      ...createActivities({
        publisher,
        connected: () => rabbit.ready,
        exchange: config.EVENTS_EXCHANGE,
        aggregates: aggregatesOf(app.config),
        lookup: createAggregateLookup(temporal),
        heads,
        bus,
        metrics: options.metrics,
        log: options.log,
      }),
    },
    maxCachedWorkflows: 2000,
    // On SIGTERM (the Runtime's default signals) the worker stops polling and lets the tasks it
    // holds finish, a publish included; past the grace an activity is cancelled and retried
    // elsewhere (at-least-once; projections skip the duplicate). Keep below the deployment's stop timeout.
    shutdownGraceTime: '10s',
    shutdownForceTime: '25s',
  });
  let running: Promise<void> | undefined;
  const close = async () => {
    await publisher.close();
    await rabbit.close();
    await temporal.connection.close();
    await closeRedis(redis);
    await connection.close();
  };
  return {
    worker,
    run() {
      running ??= worker.run().finally(close);
      return running;
    },
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await (running ?? close());
    },
    readiness: () => ({ running: worker.getState() === 'RUNNING', rabbitmq: rabbit.ready }),
  };
}

/** The process as `ledgerflow worker` runs it: settings from the environment, the app from LEDGERFLOW_CONFIG. */
export async function main() {
  const config = loadConfig();
  const app = await loadApp(process.env.LEDGERFLOW_CONFIG);
  const log = createLogger('worker', config.LOG_LEVEL);
  startTracing('ledgerflow-worker');
  // The SDK's series (temporal_*) are exported by Core on loopback and served with ours.
  const sdkMetrics = `127.0.0.1:${config.WORKER_SDK_METRICS_PORT || (await freePort())}`;
  Runtime.install({
    logger: temporalLogger(log),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      metrics: { prometheus: { bindAddress: sdkMetrics, countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true } },
    },
  });
  const registry = processRegistry();
  const { worker, run, readiness } = await createAggregateWorker(app, config, {
    log,
    metrics: createWorkerMetrics(registry),
    workflowBundlePath: process.env.LEDGERFLOW_WORKFLOW_BUNDLE || undefined,
  });
  const ops = await startOpsServer({
    port: config.WORKER_METRICS_PORT,
    host: config.METRICS_HOST,
    registry,
    ready: readiness,
    moreMetrics: () => scrape(`http://${sdkMetrics}/metrics`),
    log,
  });
  log.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, temporal: config.TEMPORAL_ADDRESS, metrics: `${ops.url}/metrics` }, 'worker started');
  await run();
  await ops.close();
  await stopTracing();
  log.info({ state: worker.getState() }, 'worker stopped');
}

if (require.main === module) runMain(main, 'worker');
