/**
 * The two shapes Ledgerflow runs in: worker, projector and API as processes of their own (as
 * deployed), or all three inside the benchmark's process (as `make up` once did, and as tests
 * do). Both are driven the same way, through the API's HTTP endpoint.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { startApiServer } from '../../api/server';
import { createAggregateWorker } from '../../bin/worker';
import type { Config } from '../../core/config';
import { projectionsOf } from '../../core/app';
import shop from '../../examples/shop/ledgerflow.config';
import { loadApp } from '../../infra/app-loader';

const shopConfigPath = require.resolve('../../examples/shop/ledgerflow.config');

const projections = projectionsOf(shop);
import { createLogger } from '../../infra/logger';
import { connectRabbit, topologyOf } from '../../infra/rabbit';
import { createRedis } from '../../infra/redis';
import { startProjector } from '../../projectors/runtime';
import { envOf } from '../../test/support/stack';
import type { Cleanup } from '../support/cleanup';
import { waitForPoller } from '../support/pollers';
import { ownRssMb, spawnService, tailOf } from '../support/processes';
import type { DeploymentName } from '../settings';

export interface Deployment {
  name: DeploymentName;
  apiUrl: string;
  /** Stops the worker and starts a new one (an empty workflow cache), resolving once it polls. */
  restartWorker(): Promise<void>;
  /** Resident memory in MB per process ("all" when everything shares the benchmark's process). */
  memory(): Record<string, number | null>;
  /** The processes doing the work (the benchmark's own included), for CPU accounting. */
  pids(): Record<string, number>;
  /** Throws, naming the process and its last output, if a process died. */
  assertAlive(): void;
  stop(): Promise<void>;
}

async function waitForHealth(apiUrl: string, isAlive: () => boolean, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && isAlive()) {
    if (await fetch(`${apiUrl}/health`).then((r) => r.ok, () => false)) return;
    await sleep(250);
  }
  throw new Error(`the API at ${apiUrl} did not report healthy within ${timeoutMs / 1000} s`);
}

/** `nodeArgs`: flags for each process's node, e.g. to profile them. */
export async function startProcesses(config: Config, temporal: Client, cleanup: Cleanup, nodeArgs: readonly string[] = []): Promise<Deployment> {
  const env = envOf(config, { LEDGERFLOW_CONFIG: shopConfigPath });
  const apiUrl = `http://127.0.0.1:${config.API_PORT}`;
  const spawnWorker = async () => {
    const since = Date.now();
    const worker = spawnService('worker', 'bin/worker.ts', env, nodeArgs);
    const stop = cleanup.defer(`worker process ${worker.pid}`, () => worker.stop());
    await waitForPoller(temporal, config.TEMPORAL_TASK_QUEUE, worker.pid, since, () => worker.running()).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${tailOf(worker)}`);
    });
    return { worker, stop };
  };
  const projector = spawnService('projector', 'bin/projector.ts', env, nodeArgs);
  const stopProjector = cleanup.defer('projector process', () => projector.stop());
  const api = spawnService('api', 'bin/api.ts', env, nodeArgs);
  const stopApi = cleanup.defer('api process', () => api.stop());
  let { worker, stop: stopWorker } = await spawnWorker();
  await waitForHealth(apiUrl, () => api.running());

  return {
    name: 'processes',
    apiUrl,
    async restartWorker() {
      await stopWorker();
      ({ worker, stop: stopWorker } = await spawnWorker());
    },
    memory: () => ({ worker: worker.rssMb(), api: api.rssMb(), projector: projector.rssMb() }),
    pids: () => ({ worker: worker.pid, api: api.pid, projector: projector.pid, driver: process.pid }),
    assertAlive() {
      for (const service of [worker, api, projector]) {
        if (!service.running()) throw new Error(`the ${service.name} process exited:\n${tailOf(service)}`);
      }
    },
    async stop() {
      await Promise.all([stopApi(), stopProjector(), stopWorker()]);
    },
  };
}

export async function startInProcess(config: Config, temporal: Client, cleanup: Cleanup): Promise<Deployment> {
  // Errors only: the API's start-up notice and the like would interleave with the progress lines.
  const log = createLogger('bench', 'error');
  const startWorker = async () => {
    const since = Date.now();
    const worker = await createAggregateWorker(await loadApp(shopConfigPath), config, { log });
    worker.run().catch((error: unknown) => log.error({ err: error }, 'in-process worker failed'));
    const stop = cleanup.defer('in-process worker', () => worker.shutdown());
    await waitForPoller(temporal, config.TEMPORAL_TASK_QUEUE, process.pid, since);
    return { worker, stop };
  };
  const projectorRedis = createRedis(config.REDIS_URL, 'ledgerflow-bench-projector', log);
  await projectorRedis.connect();
  const rabbit = connectRabbit(config, 'bench-projector', log);
  const closeConnections = cleanup.defer('in-process projector connections', async () => {
    await Promise.allSettled([projectorRedis.quit(), rabbit.close()]);
  });
  const projector = startProjector({ redis: projectorRedis, rabbit, topology: topologyOf(config), prefix: config.REDIS_PREFIX, log }, projections);
  const stopProjector = cleanup.defer('in-process projector', () => projector.stop());
  const api = await startApiServer(shop, { ...config, API_PORT: 0 }, log);
  const stopApi = cleanup.defer('in-process api', () => api.close());
  let { worker, stop: stopWorker } = await startWorker();

  return {
    name: 'in-process',
    apiUrl: api.url,
    async restartWorker() {
      await stopWorker();
      ({ worker, stop: stopWorker } = await startWorker());
    },
    memory: () => ({ all: ownRssMb() }),
    pids: () => ({ 'all in one': process.pid }),
    assertAlive() {
      if (worker.worker.getState() === 'FAILED') throw new Error('the in-process worker failed (see the log above)');
    },
    async stop() {
      await stopApi();
      await stopProjector();
      await stopWorker();
      await closeConnections();
    },
  };
}
