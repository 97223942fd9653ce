/**
 * Ledgerflow's command path measured through its API, one deployment at a time: commands into
 * new aggregates, into existing cached ones, into evicted ones (after a worker restart: replay),
 * each with `wait: 'none'` and the default `processed`; one hot aggregate with 1 and N senders;
 * command-to-visible latency at half the measured rate; and the memory the processes hold.
 */
import type { Settings } from '../settings';
import { classifyTrpc } from '../support/errors';
import { closedLoop, openLoop, type LoadResult } from '../support/load';
import type { Client } from '@temporalio/client';
import { workflowIdOf } from '../../core/ids';
import { cpuPerOp, sampleCpu } from '../support/cpu';
import { eventsPerCommand, probeCommands, type EventsPerCommand } from '../support/history';
import { spectrum } from '../support/stats';
import { failedFigures, figuresOf, report, type ScenarioFigures } from '../figures';
import { addItem, domainCodeOf, removeItem, type LedgerflowClient, type WaitMode } from './client';
import type { Deployment } from './deployments';
import { drain, type DrainTarget } from './drain';
import { addToPool, nextItem, recordAnswer, type Pool } from './pool';

export const commandScenarioIds = [
  'new.processed',
  'new.none',
  'existing.processed',
  'existing.none',
  'cold.processed',
  'cold.none',
  'hot.1',
  'hot.n',
  'latency',
] as const;
export type CommandScenarioId = (typeof commandScenarioIds)[number];

export interface MemoryFigures {
  /** MB per process after the warm-up. */
  idle: Record<string, number | null>;
  /** MB per process once the worker has touched `aggregatesTouched` aggregates. */
  loaded: Record<string, number | null>;
  aggregatesTouched: number;
}

export interface DeploymentFigures {
  scenarios: Partial<Record<CommandScenarioId, ScenarioFigures>>;
  /** Command-to-visible latency (ms) at the chart's percentiles, for the distribution chart. */
  latencyByPercentile: [number, number][];
  memory?: MemoryFigures;
  /** History events per command of an aggregate sent commands one after another. */
  historyPerCommand?: EventsPerCommand;
}

export interface DeploymentContext {
  settings: Settings;
  run: string;
  deployment: Deployment;
  client: LedgerflowClient;
  /** Shared by the deployments of a run: the second finds the carts the first created. */
  pool: Pool;
  /** The Temporal server's, RabbitMQ's and Redis's processes, for CPU accounting. */
  servicePids: Record<string, number>;
  /** To read an aggregate's workflow history. */
  temporal: Client;
}

export async function measureDeployment(ctx: DeploymentContext): Promise<DeploymentFigures> {
  const { settings, deployment, client, pool } = ctx;
  const seconds = settings.BENCH_SECONDS;
  const concurrency = settings.BENCH_CONCURRENCY;
  const key = (name: string) => `${ctx.run}-${deployment.name}-${name}`;
  const out: DeploymentFigures = { scenarios: {}, latencyByPercentile: [] };
  /** Aggregates the current worker (since its last start) has addressed. */
  let touched = 0;

  const loop = (senders: number, op: (i: number, sender: number) => Promise<void>, limit?: number) =>
    closedLoop({ seconds, concurrency: senders, limit, op, classify: classifyTrpc });

  /** Runs one scenario (after `prepare`, which is not measured); a failure becomes its row's reason, and the run goes on. */
  const scenario = async (id: CommandScenarioId, label: string, senders: number, measure: () => Promise<ScenarioFigures>, prepare?: () => Promise<void>) => {
    let figures: ScenarioFigures;
    try {
      await prepare?.();
      const pids = { ...ctx.servicePids, ...deployment.pids() };
      const before = sampleCpu(pids);
      figures = await measure();
      figures.cpuMsPerOp = cpuPerOp(before, sampleCpu(pids), figures.ops);
      deployment.assertAlive();
    } catch (error) {
      figures = failedFigures(label, senders, error);
    }
    out.scenarios[id] = report(`${deployment.name} ${id}`, figures);
  };

  /** For `wait: 'none'`: the rate counts until the read model shows every accepted command. */
  const drained = async (label: string, senders: number, result: LoadResult, targets: DrainTarget[]): Promise<ScenarioFigures> => {
    const figures = figuresOf(label, senders, result);
    const started = performance.now();
    const { missing } = await drain(client, targets, settings.BENCH_DRAIN_SECONDS);
    const drainSeconds = (performance.now() - started) / 1000;
    for (const m of missing) {
      const index = pool.ids.indexOf(m.cartId);
      if (index >= 0 && m.actual !== null) pool.versions[index] = m.actual;
    }
    const done = result.ops - missing.length;
    return {
      ...figures,
      acceptedPerSecond: result.perSecond,
      drainSeconds: Math.round(drainSeconds * 100) / 100,
      perSecond: Math.round((done / (result.seconds + drainSeconds)) * 10) / 10,
      ...(missing.length ? { aborted: `${missing.length} carts not at their version after ${settings.BENCH_DRAIN_SECONDS} s, e.g. ${JSON.stringify(missing[0])}` } : {}),
    };
  };

  const intoNew = async (wait: WaitMode) => {
    const targets: DrainTarget[] = [];
    const result = await loop(concurrency, async (i) => {
      const cartId = key(`new-${wait}-${i}`);
      await addItem(client, cartId, 'i0', `${cartId}-0`, wait);
      touched += 1;
      if (wait === 'none') targets.push({ cartId, version: 1 });
    });
    const label = `commands into new aggregates, wait '${wait}'`;
    return wait === 'none' ? drained(label, concurrency, result, targets) : figuresOf(label, concurrency, result);
  };

  /** Each command to pool cart `i mod pool size`; `limit` addresses each cart at most once. */
  const intoPool = async (name: string, wait: WaitMode, limit?: number) => {
    if (pool.ids.length === 0) throw new Error('no existing aggregates: the pool could not be created');
    const addressed = new Set<number>();
    const result = await loop(
      concurrency,
      async (i) => {
        const index = i % pool.ids.length;
        const version = await addItem(client, pool.ids[index]!, nextItem(pool, index), `${key(`${name}-${wait}`)}-${i}`, wait);
        recordAnswer(pool, index, version);
        addressed.add(index);
      },
      limit,
    );
    const label = `commands into ${name === 'cold' ? 'evicted' : 'existing'} aggregates (${pool.ids.length}), wait '${wait}'`;
    const targets = [...addressed].map((index) => ({ cartId: pool.ids[index]!, version: pool.versions[index]! }));
    return wait === 'none' ? drained(label, concurrency, result, targets) : figuresOf(label, concurrency, result);
  };

  /** Carts the pool lacks are created; every cart is then addressed once, so this worker has it cached. */
  const preparePool = async () => {
    const first = pool.ids.length;
    await closedLoop({
      seconds: settings.BENCH_SETUP_SECONDS,
      concurrency,
      limit: Math.max(0, settings.BENCH_POOL - first),
      op: async (i) => {
        const cartId = `${ctx.run}-pool-${first + i}`;
        const version = await addItem(client, cartId, 'i0', `${cartId}-0`, 'processed');
        addToPool(pool, cartId, version ?? 1);
      },
      classify: classifyTrpc,
    });
    const fresh = pool.ids.length - first;
    if (pool.ids.length === 0) throw new Error('could not create any aggregate for the pool');
    // Carts an earlier deployment created are new to this worker: one command each caches them.
    const warming = await closedLoop({
      seconds: settings.BENCH_SETUP_SECONDS,
      concurrency,
      limit: first,
      op: async (index) => {
        const version = await addItem(client, pool.ids[index]!, nextItem(pool, index), `${key('warming')}-${index}`, 'processed');
        recordAnswer(pool, index, version);
      },
      classify: classifyTrpc,
    });
    touched += fresh + warming.ops;
    const cold = first - warming.ops;
    console.log(
      `  ${deployment.name}: pool of ${pool.ids.length} aggregates ready (${fresh} created, ${warming.ops} warmed` +
        `${cold > 0 ? `, ${cold} left cold: setup time ran out` : ''})`,
    );
  };

  /** One cart, N senders: each sender adds then removes its own item, so the cart keeps N lines at most. */
  const hot = async (senders: number) => {
    const cartId = key(`hot-${senders}`);
    const holding = new Array<boolean>(senders).fill(false);
    touched += 1;
    const result = await loop(senders, async (i, sender) => {
      const itemId = `s${sender}`;
      try {
        if (holding[sender]) await removeItem(client, cartId, itemId, `${cartId}-${i}`, 'processed');
        else await addItem(client, cartId, itemId, `${cartId}-${i}`, 'processed');
        holding[sender] = !holding[sender];
      } catch (error) {
        if (domainCodeOf(error) === 'ITEM_NOT_IN_CART') holding[sender] = false;
        throw error;
      }
    });
    return figuresOf(`one aggregate, ${senders} sender${senders === 1 ? '' : 's'}`, senders, result);
  };

  /** Open loop at half the warm rate, each command answered once its read model shows it. */
  const latency = async () => {
    const measured = out.scenarios['existing.processed']?.perSecond || out.scenarios['new.processed']?.perSecond || 0;
    const rate = settings.BENCH_LATENCY_RATE ?? Math.round(measured * 5) / 10;
    if (!rate) throw new Error('no maximum rate was measured to take half of');
    if (pool.ids.length === 0) throw new Error('no existing aggregates: the pool could not be created');
    const result = await openLoop({
      seconds,
      rate,
      maxInFlight: Math.max(100, concurrency * 4),
      op: async (i) => {
        const index = i % pool.ids.length;
        const version = await addItem(client, pool.ids[index]!, nextItem(pool, index), `${key('latency')}-${i}`, 'projected');
        recordAnswer(pool, index, version);
      },
      classify: classifyTrpc,
    });
    out.latencyByPercentile = spectrum(result.latenciesMs);
    return {
      ...figuresOf(`command to read model visible (wait 'projected'), open loop at ${rate}/s`, concurrency, result),
      targetRate: rate,
      dropped: result.dropped,
    };
  };

  /** Touches new aggregates until the worker has seen BENCH_RSS_AGGREGATES (or the time is up), then reads RSS. */
  const memory = async (idle: MemoryFigures['idle']): Promise<MemoryFigures> => {
    const wanted = settings.BENCH_RSS_AGGREGATES - touched;
    if (deployment.name === 'processes' && wanted > 0) {
      await closedLoop({
        seconds: settings.BENCH_RSS_SECONDS,
        concurrency,
        limit: wanted,
        op: async (i) => {
          const cartId = key(`rss-${i}`);
          await addItem(client, cartId, 'i0', `${cartId}-0`, 'processed');
          touched += 1;
        },
        classify: classifyTrpc,
      });
    }
    const figures = { idle, loaded: deployment.memory(), aggregatesTouched: touched };
    console.log(`  ${deployment.name} memory (MB): idle ${JSON.stringify(idle)}, with ${touched} aggregates touched ${JSON.stringify(figures.loaded)}`);
    return figures;
  };

  /** One aggregate sent commands one after another: what its history records per command. */
  const historyProbe = async () => {
    const cartId = key('probe');
    for (let i = 0; i < probeCommands; i++) await addItem(client, cartId, `i${i}`, `${cartId}-${i}`, 'processed');
    touched += 1;
    out.historyPerCommand = await eventsPerCommand(ctx.temporal, workflowIdOf('cart', cartId), probeCommands);
    console.log(`  ${deployment.name} history events per command: ${JSON.stringify(out.historyPerCommand)}`);
  };

  // Warm-up: connections, the worker's first activations, the projector's subscription.
  await loop(Math.min(5, concurrency), (i) => addItem(client, key(`warmup-${i}`), 'i0', key(`warmup-${i}`), 'projected').then(() => undefined), 20);
  touched += 20;
  const idle = deployment.memory();

  await scenario('new.processed', "commands into new aggregates, wait 'processed'", concurrency, () => intoNew('processed'));
  await scenario('new.none', "commands into new aggregates, wait 'none'", concurrency, () => intoNew('none'));
  // Without a pool the scenarios that need one fail one by one, saying why.
  await preparePool().catch((error: unknown) => console.error(`  ${deployment.name} pool could not be prepared: ${String(error)}`));
  await scenario('existing.processed', "commands into existing aggregates, wait 'processed'", concurrency, () => intoPool('existing', 'processed'));
  await scenario('existing.none', "commands into existing aggregates, wait 'none'", concurrency, () => intoPool('existing', 'none'));
  await scenario('hot.1', 'one aggregate, 1 sender', 1, () => hot(1));
  await scenario('hot.n', `one aggregate, ${concurrency} senders`, concurrency, () => hot(concurrency));
  await historyProbe().catch((error: unknown) => console.error(`  ${deployment.name} history probe failed: ${String(error)}`));
  await scenario('latency', "command to read model visible (wait 'projected')", concurrency, latency);
  out.memory = await memory(idle);
  // Cold: every cart addressed once by a worker that has none of them cached (replay).
  const restart = () => deployment.restartWorker();
  await scenario('cold.processed', "commands into evicted aggregates, wait 'processed'", concurrency, () => intoPool('cold', 'processed', pool.ids.length), restart);
  await scenario('cold.none', "commands into evicted aggregates, wait 'none'", concurrency, () => intoPool('cold', 'none', pool.ids.length), restart);
  return out;
}
