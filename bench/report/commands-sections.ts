/** The command sections of BENCHMARKS.md: the headline, each scenario against its ceiling, latency. */
import type { CeilingId } from '../ceiling/scenarios';
import type { ScenarioFigures } from '../figures';
import type { DeploymentName } from '../settings';
import { deploymentTitle, errorsText, num, ratioText, table } from './format';
import type { Results } from './results';

const deploymentsOf = (r: Results) => Object.keys(r.ledgerflow) as DeploymentName[];
const hotOf = (r: Results) => r.comparisons.find((x) => x.scenario === 'hot.n');

export function headlineSection(r: Results): string[] {
  const s = r.settings;
  const hot = hotOf(r);
  const out: string[] = [];
  out.push(
    '## Headline',
    '',
    table(
      ['figure', 'measured', 'goal (issue 9)'],
      [
        ['commands into new aggregates (`temporalSignalLimit` is the bare Temporal rate)', `${num(r.commandThroughput)} cmd/s of ${num(r.temporalSignalLimit)}: **${ratioText(r.ratioCommandToLimit)}**`, '≥ 0.8 of the ceiling'],
        ...(['existing.processed', 'cold.processed'] as const).map((id) => {
          const x = r.comparisons.find((c) => c.scenario === id)!;
          const d = r.headlineDeployment;
          return [x.label, d ? `${num(x.ledgerflow[d])} cmd/s of ${num(x.ceiling)}: **${ratioText(x.ratio[d])}**` : '–', '≥ 0.8 of the ceiling'];
        }),
        [`one hot aggregate, ${s.BENCH_CONCURRENCY} senders`, `**${num(r.hotAggregateCommandsPerSec.manySenders)} cmd/s** (bare Temporal, one workflow: ${num(hot?.ceiling)})`, '≥ 300 cmd/s'],
        ['command to read model visible at half load, p50 / p95 / p99', r.latencyMs ? `${r.latencyMs.p50} / ${r.latencyMs.p95} / **${r.latencyMs.p99} ms**` : '–', 'p99 < 250 ms'],
        ['rebuild replay / raw pipelined Redis writes of the same keys', `${num(r.replayEventsPerSec)} / ${num(r.redisLimitEventsPerSec)} events/s: **${ratioText(r.ratioReplayToRedis)}**`, '≥ 0.5'],
        ['publish activity / raw confirming publisher', `**${ratioText(r.publishRatio)}**`, '–'],
        [`worker RSS with ${num(r.aggregatesTouched)} aggregates touched`, `**${num(r.workerRssMb)} MB** (API ${num(r.apiRssMb)} MB, projector ${num(r.projectorRssMb)} MB)`, 'stated and bounded'],
      ],
      ['l', 'l', 'l'],
    ),
    '',
    `Headline figures come from the ${r.headlineDeployment ?? '–'} deployment.`,
    '',
  );

  return out;
}

export function commandsSection(r: Results): string[] {
  const s = r.settings;
  const deployments = deploymentsOf(r);
  const hot = hotOf(r);
  const out: string[] = [];
  out.push(
    '## Commands against the Temporal ceiling',
    '',
    '![Commands per second per scenario, beside the bare Temporal ceiling](bench/results/throughput.svg)',
    '',
    table(
      ['scenario', ...deployments.map((d) => deploymentTitle[d]), 'Temporal ceiling', ...deployments.map((d) => `ratio (${d})`)],
      r.comparisons.map((c) => [c.label, ...deployments.map((d) => num(c.ledgerflow[d])), num(c.ceiling), ...deployments.map((d) => ratioText(c.ratio[d]))]),
    ),
    '',
    ...((hot?.ceiling ?? Infinity) < (hot?.ledgerflow[r.headlineDeployment ?? 'processes'] ?? 0)
      ? [
          `One workflow with ${s.BENCH_CONCURRENCY} senders: Temporal admits at most 10 in-flight updates per workflow and refuses the rest`,
          '(RESOURCE_EXHAUSTED, retried by the client with backoff), so the bare ceiling collapses there while Ledgerflow,',
          'which coalesces concurrent commands for one aggregate into one update, does not: a ratio above 1.',
          '',
        ]
      : []),
    "Rates are commands (or bare updates) per second. For `wait: 'none'` the rate counts until the read model showed every command; the",
    "API's acceptance rate is in the details below. The ceilings are a bare worker whose workflow only counts updates",
    '(`bench/ceiling/`), driven with update-with-start, the call the API makes, at the same concurrency:',
    '',
    table(
      ['ceiling', 'updates/s', 'p50 ms', 'p99 ms', 'errors'],
      (Object.entries(r.ceiling) as [CeilingId, ScenarioFigures][]).map(([id, f]) => [`${id}: ${f.label}`, num(f.perSecond), num(f.latencyMs.p50), num(f.latencyMs.p99), errorsText(f)]),
    ),
    '',
  );

  for (const d of deployments) {
    const figures = r.ledgerflow[d]!;
    out.push(
      `### ${deploymentTitle[d]}: details`,
      '',
      table(
        ['scenario', 'commands', 'seconds', 'cmd/s', 'accepted/s', 'p50 ms', 'p95 ms', 'p99 ms', 'retried refusals', 'errors'],
        Object.values(figures.scenarios).map((f) => [
          f.label,
          num(f.ops),
          num(f.seconds),
          num(f.perSecond),
          num(f.acceptedPerSecond),
          num(f.latencyMs.p50),
          num(f.latencyMs.p95),
          num(f.latencyMs.p99),
          num(f.retries),
          errorsText(f),
        ]),
      ),
      '',
    );
  }

  return out;
}

export function latencySection(r: Results): string[] {
  const deployments = deploymentsOf(r);
  const out: string[] = [];
  out.push(
    '## Latency: command sent to read model visible',
    '',
    '![Latency distribution of commands until visible in the read model](bench/results/latency.svg)',
    '',
    table(
      ['deployment', 'open-loop rate', 'commands', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'dropped (overload)'],
      deployments.map((d) => {
        const f = r.ledgerflow[d]!.scenarios.latency;
        return [deploymentTitle[d], f?.targetRate ? `${num(f.targetRate)}/s` : '–', num(f?.ops), num(f?.latencyMs.p50), num(f?.latencyMs.p95), num(f?.latencyMs.p99), num(f?.latencyMs.max), num(f?.dropped)];
      }),
    ),
    '',
    "Commands are fired at a fixed rate (half the warm scenario's measured rate) into the existing aggregates with",
    "`wait: 'projected'`, whatever the answers; each latency runs from when its command was due to the answer.",
    '',
  );

  return out;
}
