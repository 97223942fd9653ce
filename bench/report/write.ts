/**
 * Writes bench/results/latest.json, the two charts beside it, and BENCHMARKS.md at the repo root.
 * A partial run (some phases or deployments left out, e.g. for a profile) writes only
 * bench/results/partial.json, so it never replaces the figures of a full one.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeploymentName } from '../settings';
import { repoRoot, resultsDir } from '../support/paths';
import { groupedBars, percentileChart, type Series } from './charts';
import { renderMarkdown } from './markdown';
import type { Results } from './results';

const colors: Record<DeploymentName | 'ceiling', string> = { ceiling: '#9aa5b1', processes: '#2f6fde', 'in-process': '#f08c2e' };
const names: Record<DeploymentName | 'ceiling', string> = { ceiling: 'bare Temporal (ceiling)', processes: 'Ledgerflow, processes', 'in-process': 'Ledgerflow, one process' };

export function writePartial(results: Results): string[] {
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, 'partial.json');
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  return [file];
}

export function writeReport(results: Results, record?: string): string[] {
  mkdirSync(resultsDir, { recursive: true });
  const deployments = Object.keys(results.ledgerflow) as DeploymentName[];
  const series: Series[] = (['ceiling', ...deployments] as const).map((k) => ({ name: names[k], color: colors[k] }));
  const throughput = groupedBars(
    'Commands per second against the Temporal ceiling',
    'per second',
    series,
    results.comparisons.map((c) => ({ label: c.label.replace(/^commands into /, ''), values: [c.ceiling, ...deployments.map((d) => c.ledgerflow[d] ?? null)] })),
  );
  const latency = percentileChart(
    "Command sent → read model visible (wait 'projected', half load)",
    deployments.map((d) => ({ name: names[d], color: colors[d], points: results.ledgerflow[d]?.latencyByPercentile ?? [] })),
  );
  const files = {
    json: join(resultsDir, 'latest.json'),
    throughput: join(resultsDir, 'throughput.svg'),
    latency: join(resultsDir, 'latency.svg'),
    markdown: join(repoRoot, 'BENCHMARKS.md'),
  };
  writeFileSync(files.json, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(files.throughput, throughput);
  writeFileSync(files.latency, latency);
  const previous = existsSync(files.markdown) ? readFileSync(files.markdown, 'utf8') : null;
  writeFileSync(files.markdown, renderMarkdown(results, previous, record));
  return Object.values(files);
}
