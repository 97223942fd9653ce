/** Markdown pieces the report is made of: numbers, ratios, tables. */
import type { ScenarioFigures } from '../figures';
import type { DeploymentName } from '../settings';
import type { Machine } from '../support/machine';

export const deploymentTitle: Record<DeploymentName, string> = { processes: 'Ledgerflow, separate processes', 'in-process': 'Ledgerflow, one process' };

export const num = (n: number | null | undefined, suffix = '') =>
  n === null || n === undefined ? '–' : `${n.toLocaleString('en-US', { maximumFractionDigits: 1 })}${suffix}`;

export const ratioText = (r: number | null | undefined) => (r === null || r === undefined ? '–' : r.toFixed(2));

/** Other work on the machine (load above a quarter of its cores) makes absolute rates unreliable. */
export const wasBusy = (m: Machine) => m.loadAverage > m.cores * 0.25;

/** Columns of figures are right-aligned (found by their cells, unless `align` says). */
export function table(header: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const numeric = (i: number) => i > 0 && rows.every((row) => /^(\*\*)?(–|[\d,.]+(\/s)?)(\*\*)?$/.test(row[i] ?? '–'));
  const sep = header.map((_, i) => ((align?.[i] ?? (numeric(i) ? 'r' : 'l')) === 'r' ? '---:' : '---'));
  return [header, sep, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

export function errorsText(f: ScenarioFigures): string {
  const parts = Object.entries(f.errors).map(([code, n]) => `${n} ${code}`);
  if (f.aborted) parts.push(`stopped: ${f.aborted.replace(/\|/g, '\\|').replace(/\n/g, ' ').slice(0, 160)}`);
  return parts.join('; ') || '–';
}
