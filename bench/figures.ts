/** The shape every measurement reports, as written to bench/results/latest.json. */
import type { LoadResult } from './support/load';
import { summarize, type LatencySummary } from './support/stats';

export interface ScenarioFigures {
  label: string;
  senders: number;
  /** Operations that succeeded. */
  ops: number;
  seconds: number;
  /** The rate compared against the ceiling; for `wait: 'none'`, until the read model showed every command. */
  perSecond: number;
  /** `wait: 'none'` only: how fast the API accepted the commands into the mailboxes. */
  acceptedPerSecond?: number;
  /** `wait: 'none'` only: from the last acceptance until every command was visible in the read model. */
  drainSeconds?: number;
  /** Open loop only: the rate commands were fired at, and how many were dropped as overload. */
  targetRate?: number;
  dropped?: number;
  latencyMs: LatencySummary;
  retries: number;
  errors: Record<string, number>;
  firstError?: string;
  /** Why it stopped early or was not run at all. */
  aborted?: string;
  /** CPU milliseconds each process spent per successful operation during the scenario. */
  cpuMsPerOp?: Record<string, number>;
}

export function figuresOf(label: string, senders: number, result: LoadResult): ScenarioFigures {
  return {
    label,
    senders,
    ops: result.ops,
    seconds: result.seconds,
    perSecond: result.perSecond,
    latencyMs: summarize(result.latenciesMs),
    retries: result.retries,
    errors: result.errors,
    ...(result.firstError ? { firstError: result.firstError } : {}),
    ...(result.aborted ? { aborted: result.aborted } : {}),
  };
}

/** A scenario that could not run: its row still appears, saying why. */
export function failedFigures(label: string, senders: number, error: unknown): ScenarioFigures {
  const reason = error instanceof Error ? error.message : String(error);
  return { label, senders, ops: 0, seconds: 0, perSecond: 0, latencyMs: summarize([]), retries: 0, errors: {}, aborted: reason.slice(0, 500) };
}

/** Prints one line per scenario as it finishes, so a long run shows progress. */
export function report(id: string, f: ScenarioFigures): ScenarioFigures {
  const extra = [
    f.acceptedPerSecond !== undefined ? `accepted ${f.acceptedPerSecond}/s` : '',
    f.drainSeconds !== undefined ? `drain ${f.drainSeconds}s` : '',
    f.retries ? `retries ${f.retries}` : '',
    Object.keys(f.errors).length ? `errors ${JSON.stringify(f.errors)}` : '',
    f.aborted ? `ABORTED: ${f.aborted}` : '',
  ].filter(Boolean);
  console.log(
    `  ${id.padEnd(34)} ${String(f.perSecond).padStart(8)}/s  ${String(f.ops).padStart(6)} ops in ${f.seconds}s  p50 ${f.latencyMs.p50} p99 ${f.latencyMs.p99} ms  ${extra.join('  ')}`,
  );
  return f;
}
