/** The stage sections of BENCHMARKS.md: replay, publishing, where the CPU goes, memory. */
import type { CeilingId } from '../ceiling/scenarios';
import type { ScenarioFigures } from '../figures';
import type { DeploymentName } from '../settings';
import { deploymentTitle, errorsText, num, ratioText, table } from './format';
import type { Results } from './results';

const deploymentsOf = (r: Results) => Object.keys(r.ledgerflow) as DeploymentName[];

export function replaySection(r: Results): string[] {
  const out: string[] = [];
  if (r.replay) {
    const { replay, redis } = r.replay;
    out.push(
      '## Replay (rebuild) against raw Redis',
      '',
      table(
        ['measurement', 'events/s', 'note'],
        [
          ['projector catch-up from the start of the log (generation 1)', num(replay.catchUpEventsPerSec), `${num(replay.events)} events`],
          ['rebuild into a new generation', num(replay.rebuildEventsPerSec), `${replay.rebuildWallSeconds} s from the request to the switch`],
          ['raw pipelined node-redis writes of the same keys', num(redis.eventsPerSec), `${num(redis.opsPerSec)} Redis commands/s (SET document, HSET version, ZADD index per event; SET checkpoint per 500)`],
          ['**ratio rebuild / raw**', `**${ratioText(r.ratioReplayToRedis)}**`, ''],
        ],
        ['l', 'r', 'l'],
      ),
      '',
    );
  }

  return out;
}

export function publishSection(r: Results): string[] {
  const s = r.settings;
  const out: string[] = [];
  if (r.publish) {
    const p = r.publish;
    out.push(
      '## Publishing against raw rabbitmq-client',
      '',
      table(
        ['publisher', 'events/s', 'p50 ms', 'p99 ms', 'errors'],
        [p.raw, p.activity].map((f) => [f.label, num(f.perSecond), num(f.latencyMs.p50), num(f.latencyMs.p99), errorsText(f)]),
      ),
      '',
      `Ratio activity / raw: **${ratioText(p.publishRatio)}** (${p.batchSize} event(s) per call, ${s.BENCH_CONCURRENCY} concurrent callers, rounds alternated).`,
      '',
    );
  }

  return out;
}

export function cpuSection(r: Results): string[] {
  const deployments = deploymentsOf(r);
  const out: string[] = [];
  out.push(
    '## Where the CPU goes',
    '',
    'CPU milliseconds each process spent per successful command (or bare update) during each scenario, from /proc: the',
    "process with the most is the one to look at first (`npm run bench:profile` breaks a process's down by function).",
    'RabbitMQ and Redis are the machine\'s shared services: other load on them counts too.',
    '',
  );
  const cpuTable = (rows: [string, ScenarioFigures | undefined][]) => {
    const names = [...new Set(rows.flatMap(([, f]) => Object.keys(f?.cpuMsPerOp ?? {})))];
    if (names.length === 0) return null;
    return table(
      ['scenario', ...names, 'total'],
      rows.map(([label, f]) => {
        const cpu = f?.cpuMsPerOp ?? {};
        const total = Object.values(cpu).reduce((a, b) => a + b, 0);
        return [label, ...names.map((n) => num(cpu[n])), f?.cpuMsPerOp ? `**${num(total)}**` : '–'];
      }),
    );
  };
  const ceilingCpu = cpuTable((Object.entries(r.ceiling) as [CeilingId, ScenarioFigures][]).map(([id, f]) => [`ceiling ${id}`, f]));
  if (ceilingCpu) out.push('Bare Temporal (ceiling):', '', ceilingCpu, '');
  for (const d of deployments) {
    const t = cpuTable(Object.values(r.ledgerflow[d]!.scenarios).map((f) => [f.label, f]));
    if (t) out.push(`${deploymentTitle[d]}:`, '', t, '');
  }

  const history = r.historyEventsPerCommand;
  if (history.ceiling || history.ledgerflow) {
    const types = [...new Set([...Object.keys(history.ledgerflow ?? {}), ...Object.keys(history.ceiling ?? {})])].filter((t) => t !== 'total');
    out.push(
      'History events per command (one aggregate, or one bare workflow, sent 20 commands one after another): each is a write',
      'on the Temporal server, and each workflow task a round trip to the worker.',
      '',
      table(
        ['event type', 'bare Temporal', 'Ledgerflow'],
        [...types, 'total'].map((t) => [t === 'total' ? '**total**' : t, num(history.ceiling?.[t] ?? 0), num(history.ledgerflow?.[t] ?? 0)]),
      ),
      '',
    );
  }

  return out;
}

export function memorySection(r: Results): string[] {
  const deployments = deploymentsOf(r);
  const out: string[] = [];
  out.push('## Memory (resident set size, MB)', '');
  const memoryRows = deployments.flatMap((d) => {
    const mem = r.ledgerflow[d]?.memory;
    if (!mem) return [];
    return Object.keys(mem.loaded).map((proc) => [`${deploymentTitle[d]}: ${proc === 'all' ? 'worker, projector, API and the benchmark driver' : proc}`, num(mem.idle[proc]), num(mem.loaded[proc]), num(mem.aggregatesTouched)]);
  });
  if (r.ceilingMemory) {
    const c = r.ceilingMemory;
    memoryRows.push(['bare Temporal worker (ceiling), for comparison', num(c.idleMb), num(c.loadedMb), num(c.workflowsTouched)]);
  }
  out.push(table(['process', 'after warm-up', 'loaded', 'aggregates (workflows) the worker had touched'], memoryRows), '');
  out.push(
    'Processes run from source with `node --import tsx` (as `make bench` starts them), which adds the loader to each.',
    '',
  );

  return out;
}
