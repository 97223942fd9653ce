/**
 * The Temporal ceiling: update-with-start, the call the API makes for every command, into new
 * workflows, into existing cached ones, into evicted ones (the worker restarted: replay), and into
 * one workflow, at the same concurrency as the Ledgerflow scenarios, against the bare worker.
 */
import { join } from 'node:path';
import { WithStartWorkflowOperation, type Client } from '@temporalio/client';
import type { Cleanup } from '../support/cleanup';
import { cpuPerOp, sampleCpu } from '../support/cpu';
import { classifyTemporal } from '../support/errors';
import { eventsPerCommand, probeCommands, type EventsPerCommand } from '../support/history';
import { closedLoop } from '../support/load';
import { waitForPoller } from '../support/pollers';
import { spawnService, type ChildService } from '../support/processes';
import { figuresOf, report, type ScenarioFigures } from '../figures';
import { nodeArgsOf, type Settings } from '../settings';
import { counterWorkflow, countUpdate } from './workflows';

export const ceilingIds = ['new', 'existing', 'cold', 'one-1', 'one-n'] as const;
export type CeilingId = (typeof ceilingIds)[number];

export interface CeilingContext {
  settings: Settings;
  temporal: Client;
  temporalAddress: string;
  run: string;
  cleanup: Cleanup;
  /** The Temporal server's process, for CPU accounting. */
  servicePids: Record<string, number>;
}

/** As large as a Ledgerflow command envelope, so both sides carry the same payload. */
const commandLike = (workflowId: string, i: number) => ({
  commandId: `${workflowId}-${i}-0f8fad5b-d9cb-469f-a165-70867728950e`,
  aggregateType: 'cart',
  aggregateId: workflowId,
  type: 'addItem',
  payload: { itemId: `i${i % 20}`, quantity: 1, price: 0.5 },
  metadata: { correlationId: `${workflowId}-${i}-7c9e6679-7425-40de-944b-e07fc1f90ae7`, issuedAt: new Date().toISOString() },
});

export interface CeilingFigures {
  scenarios: Record<CeilingId, ScenarioFigures>;
  /** The bare worker's resident memory once it has run `workflowsTouched` workflows (its cache holds at most 2,000). */
  memory: { idleMb: number | null; loadedMb: number | null; workflowsTouched: number };
  /** History events per update of a workflow sent updates one after another. */
  historyPerCommand: EventsPerCommand | null;
}

export async function measureCeiling(ctx: CeilingContext): Promise<CeilingFigures> {
  const { settings, temporal, run } = ctx;
  const taskQueue = `ledgerflow-bench-ceiling-${run}`;
  const seconds = settings.BENCH_SECONDS;
  const concurrency = settings.BENCH_CONCURRENCY;

  let worker: ChildService | undefined;
  const startWorker = async () => {
    const since = Date.now();
    worker = spawnService('ceiling-worker', join('bench', 'ceiling', 'worker.ts'), {
      ...process.env,
      TEMPORAL_ADDRESS: ctx.temporalAddress,
      BENCH_TASK_QUEUE: taskQueue,
    }, nodeArgsOf(settings));
    await waitForPoller(temporal, taskQueue, worker.pid, since, () => worker?.running() ?? false);
  };
  ctx.cleanup.defer('ceiling worker', () => worker?.stop());

  const updateWithStart = (workflowId: string, i: number) =>
    temporal.workflow.executeUpdateWithStart(countUpdate, {
      args: [commandLike(workflowId, i)],
      startWorkflowOperation: new WithStartWorkflowOperation(counterWorkflow, {
        workflowId,
        taskQueue,
        args: [0],
        workflowIdConflictPolicy: 'USE_EXISTING',
      }),
    });
  const pids = () => ({ ...ctx.servicePids, worker: worker!.pid, driver: process.pid });
  let cpuBefore = {};
  const loop = async (senders: number, op: (i: number) => Promise<unknown>, limit?: number) => {
    cpuBefore = sampleCpu(pids());
    return closedLoop({ seconds, concurrency: senders, limit, op: async (i) => void (await op(i)), classify: classifyTemporal });
  };

  const figures = {} as Record<CeilingId, ScenarioFigures>;
  const record = (id: CeilingId, label: string, senders: number, result: Awaited<ReturnType<typeof loop>>) =>
    (figures[id] = report(`ceiling ${id}`, { ...figuresOf(label, senders, result), cpuMsPerOp: cpuPerOp(cpuBefore, sampleCpu(pids()), result.ops) }));

  await startWorker();
  // Warm-up: the worker's first activations, the client's connection.
  await loop(Math.min(10, concurrency), (i) => updateWithStart(`${run}-warmup-${i}`, i), 50);
  const idleMb = worker!.rssMb();

  record('new', 'update-with-start into new workflows', concurrency, await loop(concurrency, (i) => updateWithStart(`${run}-new-${i}`, i)));

  // The pool: existing workflows, cached by the worker that just created them.
  const pool: string[] = [];
  await closedLoop({
    seconds: settings.BENCH_SETUP_SECONDS,
    concurrency,
    limit: settings.BENCH_POOL,
    op: async (i) => {
      await updateWithStart(`${run}-pool-${i}`, 0);
      pool.push(`${run}-pool-${i}`);
    },
    classify: classifyTemporal,
  });
  record('existing', `update-with-start into ${pool.length} existing workflows`, concurrency, await loop(concurrency, (i) => updateWithStart(pool[i % pool.length]!, i)));

  const memory = { idleMb, loadedMb: worker!.rssMb(), workflowsTouched: 50 + figures.new.ops + pool.length };
  console.log(`  ceiling worker memory (MB): idle ${idleMb}, with ${memory.workflowsTouched} workflows touched ${memory.loadedMb}`);

  record('one-1', 'update-with-start into one workflow, 1 sender', 1, await loop(1, (i) => updateWithStart(`${run}-one-1`, i)));
  const probe = `${run}-probe`;
  for (let i = 0; i < probeCommands; i++) await updateWithStart(probe, i);
  const historyPerCommand = await eventsPerCommand(temporal, probe, probeCommands).catch(() => null);

  record('one-n', `update-with-start into one workflow, ${concurrency} senders`, concurrency, await loop(concurrency, (i) => updateWithStart(`${run}-one-n`, i)));

  // Cold: a restarted worker has none of the pool cached; each workflow is addressed once, so
  // every update pays the replay of its history.
  await worker!.stop();
  await startWorker();
  record('cold', `update-with-start into evicted workflows (replay), each once`, concurrency, await loop(concurrency, (i) => updateWithStart(pool[i]!, i), pool.length));

  await worker!.stop();
  return { scenarios: figures, memory, historyPerCommand };
}
