/** The aggregate worker: runs every aggregate workflow and the publish activity. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NativeConnection, Runtime, Worker, makeTelemetryFilterString } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createAggregateLookup } from '../activities/lookups';
import { createCommandBus } from '../commands/bus';
import { aggregates } from '../domain';
import { freePort } from '../infra/net';
import { connectTemporal } from '../infra/temporal';
import { createPaymentClient } from '../payments/client';
import type { AnyAggregate } from '../core/aggregate';
import { loadConfig, type Config } from '../core/config';
import { createLogger, temporalLogger, type Logger } from '../infra/logger';
import { createWorkerMetrics, processRegistry, type WorkerMetrics } from '../infra/metrics';
import { scrape, startOpsServer, type ReadinessChecks } from '../infra/ops-server';
import { connectRabbit, createEventPublisher, topologyOf } from '../infra/rabbit';
import { assertSearchAttributes } from '../infra/setup';
import { workerTracing, workflowTracingModule } from '../infra/temporal-tracing';
import { startTracing } from '../infra/tracing-sdk';
import { stopTracing } from '../infra/tracing';
import { runMain } from './main';

const compiled = __dirname.endsWith(join('dist', 'bin'));
/** Built by `npm run build` next to the compiled code. */
export const workflowBundlePath = join(__dirname, compiled ? '..' : '../dist', 'workflow-bundle.js');
/** The same workflows with Temporal's OpenTelemetry workflow interceptors, run while tracing is on. */
export const tracedWorkflowBundlePath = join(__dirname, compiled ? '..' : '../dist', 'workflow-bundle-traced.js');

export interface AggregateWorker {
  worker: Worker;
  /** Resolves when the worker has stopped. */
  run(): Promise<void>;
  shutdown(): Promise<void>;
  /** For /health/ready: polling its task queue, and connected to RabbitMQ. */
  readiness(): ReadinessChecks;
}

/**
 * Compiled code runs the prebuilt bundle; code run from source (tsx, tests) bundles its own
 * workflows, so it never runs a stale bundle.
 */
export interface AggregateWorkerOptions {
  bundle?: 'prebuilt' | 'source';
  log?: Logger;
  /**
   * A workflows module of your own (exporting `aggregateWorkflow = aggregateWorkflowFor(yourAggregates)`)
   * with the same aggregates for deciding; bundled from source. The reference domain's by default.
   */
  domain?: { workflowsPath: string; aggregates: Readonly<Record<string, AnyAggregate>> };
  /** Where the activities count decisions and publishing (none by default). */
  metrics?: WorkerMetrics;
}

export async function createAggregateWorker(config: Config, options: AggregateWorkerOptions = {}): Promise<AggregateWorker> {
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
  const bus = createCommandBus(temporal, { taskQueue: config.TEMPORAL_TASK_QUEUE, timeoutMs: config.COMMAND_TIMEOUT_MS });
  const usePrebuilt = !options.domain && (options.bundle ?? (compiled ? 'prebuilt' : 'source')) === 'prebuilt';
  // Tracing's workflow interceptors are bundled only while tracing is on: off, workflows run without them.
  const tracing = workerTracing();
  const bundlePath = tracing ? tracedWorkflowBundlePath : workflowBundlePath;
  if (usePrebuilt && !existsSync(bundlePath)) throw new Error(`no workflow bundle at ${bundlePath}: run npm run build`);
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    ...(usePrebuilt ? { workflowBundle: { codePath: bundlePath } } : { workflowsPath: options.domain?.workflowsPath ?? require.resolve('../workflows') }),
    ...(tracing && { interceptors: { activity: tracing.activity, ...(!usePrebuilt && { workflowModules: [workflowTracingModule] }) }, sinks: tracing.sinks }),
    activities: createActivities({
      publisher,
      exchange: config.EVENTS_EXCHANGE,
      aggregates: options.domain?.aggregates ?? aggregates,
      lookup: createAggregateLookup(temporal),
      bus,
      payments: createPaymentClient(config.PAYMENT_GATEWAY_URL),
      metrics: options.metrics,
    }),
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

async function main() {
  const config = loadConfig();
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
  const { worker, run, readiness } = await createAggregateWorker(config, { log, metrics: createWorkerMetrics(registry) });
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
