/**
 * bench/results/latest.json: every scenario's figures, the comparisons against the ceilings, and
 * the headline fields issue 9 names (temporalSignalLimit, commandThroughput, ...).
 */
import type { CeilingFigures, CeilingId } from '../ceiling/scenarios';
import type { ScenarioFigures } from '../figures';
import type { CommandScenarioId, DeploymentFigures } from '../ledgerflow/scenarios';
import type { PublishFigures } from '../publish';
import type { ReplayPhaseFigures } from '../replay/phase';
import type { DeploymentName, Settings } from '../settings';
import type { EventsPerCommand } from '../support/history';
import type { Machine } from '../support/machine';
import { ratio } from '../support/stats';

/** Which ceiling each command scenario is held against. */
export const ceilingOf: Record<Exclude<CommandScenarioId, 'latency'>, CeilingId> = {
  'new.processed': 'new',
  'new.none': 'new',
  'existing.processed': 'existing',
  'existing.none': 'existing',
  'cold.processed': 'cold',
  'cold.none': 'cold',
  'hot.1': 'one-1',
  'hot.n': 'one-n',
};

export interface Comparison {
  scenario: Exclude<CommandScenarioId, 'latency'>;
  label: string;
  ceilingLabel: string | null;
  ceiling: number | null;
  ledgerflow: Partial<Record<DeploymentName, number | null>>;
  ratio: Partial<Record<DeploymentName, number | null>>;
}

export interface Results {
  date: string;
  durationSeconds: number;
  machine: Machine;
  settings: Omit<Settings, 'BENCH_RECORD'>;
  /** The deployment the headline figures come from (processes, as deployed, when measured). */
  headlineDeployment: DeploymentName | null;
  temporalSignalLimit: number | null;
  commandThroughput: number | null;
  ratioCommandToLimit: number | null;
  latencyMs: { p50: number; p95: number; p99: number } | null;
  replayEventsPerSec: number | null;
  redisLimitOpsPerSec: number | null;
  redisLimitEventsPerSec: number | null;
  ratioReplayToRedis: number | null;
  publishRatio: number | null;
  workerRssMb: number | null;
  apiRssMb: number | null;
  projectorRssMb: number | null;
  aggregatesTouched: number | null;
  hotAggregateCommandsPerSec: { oneSender: number | null; manySenders: number | null };
  /** Workflow history events per command, commands sent one after another: what each costs the Temporal server. */
  historyEventsPerCommand: { ceiling: EventsPerCommand | null; ledgerflow: EventsPerCommand | null };
  comparisons: Comparison[];
  ceiling: Partial<Record<CeilingId, ScenarioFigures>>;
  ceilingMemory: CeilingFigures['memory'] | null;
  ledgerflow: Partial<Record<DeploymentName, DeploymentFigures>>;
  replay: ReplayPhaseFigures | null;
  publish: PublishFigures | null;
  /** Phases that could not run, and why. */
  failures: Record<string, string>;
}

export interface Measured {
  started: Date;
  machine: Machine;
  settings: Settings;
  ceiling: Partial<Record<CeilingId, ScenarioFigures>>;
  ceilingMemory: CeilingFigures['memory'] | null;
  ceilingHistory: CeilingFigures['historyPerCommand'];
  ledgerflow: Partial<Record<DeploymentName, DeploymentFigures>>;
  replay: ReplayPhaseFigures | null;
  publish: PublishFigures | null;
  failures: Record<string, string>;
}

const usable = (f: ScenarioFigures | undefined) => (f && f.ops > 0 ? f.perSecond : null);

export function assembleResults(m: Measured): Results {
  const deploymentNames = Object.keys(m.ledgerflow) as DeploymentName[];
  const comparisons: Comparison[] = (Object.keys(ceilingOf) as (keyof typeof ceilingOf)[]).map((scenario) => {
    const ceilingFigures = m.ceiling[ceilingOf[scenario]];
    const ceiling = usable(ceilingFigures);
    const label = deploymentNames.map((d) => m.ledgerflow[d]?.scenarios[scenario]?.label).find(Boolean) ?? scenario;
    const ledgerflow = Object.fromEntries(deploymentNames.map((d) => [d, usable(m.ledgerflow[d]?.scenarios[scenario])]));
    return {
      scenario,
      label,
      ceilingLabel: ceilingFigures?.label ?? null,
      ceiling,
      ledgerflow,
      ratio: Object.fromEntries(deploymentNames.map((d) => [d, ledgerflow[d] != null && ceiling ? ratio(ledgerflow[d]!, ceiling) : null])),
    };
  });
  const headline: DeploymentName | null = m.ledgerflow.processes ? 'processes' : m.ledgerflow['in-process'] ? 'in-process' : null;
  const deployment = headline ? m.ledgerflow[headline] : undefined;
  const latency = deployment?.scenarios.latency;
  const memory = m.ledgerflow.processes?.memory;
  const { BENCH_RECORD: _record, ...settings } = m.settings;
  const commandThroughput = usable(deployment?.scenarios['new.processed']);
  const temporalSignalLimit = usable(m.ceiling.new);
  return {
    date: m.started.toISOString(),
    durationSeconds: Math.round((Date.now() - m.started.getTime()) / 1000),
    machine: m.machine,
    settings,
    headlineDeployment: headline,
    temporalSignalLimit,
    commandThroughput,
    ratioCommandToLimit: commandThroughput !== null && temporalSignalLimit ? ratio(commandThroughput, temporalSignalLimit) : null,
    latencyMs: latency && latency.ops > 0 ? { p50: latency.latencyMs.p50, p95: latency.latencyMs.p95, p99: latency.latencyMs.p99 } : null,
    replayEventsPerSec: m.replay?.replay.rebuildEventsPerSec ?? null,
    redisLimitOpsPerSec: m.replay?.redis.opsPerSec ?? null,
    redisLimitEventsPerSec: m.replay?.redis.eventsPerSec ?? null,
    ratioReplayToRedis: m.replay?.ratioReplayToRedis ?? null,
    publishRatio: m.publish?.publishRatio ?? null,
    workerRssMb: memory?.loaded.worker ?? null,
    apiRssMb: memory?.loaded.api ?? null,
    projectorRssMb: memory?.loaded.projector ?? null,
    aggregatesTouched: memory?.aggregatesTouched ?? null,
    hotAggregateCommandsPerSec: { oneSender: usable(deployment?.scenarios['hot.1']), manySenders: usable(deployment?.scenarios['hot.n']) },
    historyEventsPerCommand: { ceiling: m.ceilingHistory, ledgerflow: deployment?.historyPerCommand ?? null },
    comparisons,
    ceiling: m.ceiling,
    ceilingMemory: m.ceilingMemory,
    ledgerflow: m.ledgerflow,
    replay: m.replay,
    publish: m.publish,
    failures: m.failures,
  };
}
