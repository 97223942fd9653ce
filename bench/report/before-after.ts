/**
 * The "Before and after" section of BENCHMARKS.md: history that later changes append to. Every
 * run keeps it as found; the first run writes it with a baseline row, and a run with
 * BENCH_RECORD=<label> adds a row under the table's last one.
 */
import { num, ratioText, wasBusy } from './format';
import type { Results } from './results';

const heading = '## Before and after';

export function beforeAfterRow(r: Results, label: string): string {
  const d = r.headlineDeployment;
  const cell = (id: string) => {
    const x = r.comparisons.find((c) => c.scenario === id);
    return d && x ? `${num(x.ledgerflow[d])} (${ratioText(x.ratio[d])})` : '–';
  };
  return `| ${r.date.slice(0, 10)} | ${label} | ${r.machine.commit ?? '–'} | ${cell('new.processed')} | ${cell('existing.processed')} | ${cell('cold.processed')} | ${cell('hot.n')} | ${num(r.latencyMs?.p99)} | ${ratioText(r.ratioReplayToRedis)} | ${ratioText(r.publishRatio)} | ${num(r.workerRssMb)} |`;
}

/** The section of an existing BENCHMARKS.md, up to the next heading of its level. */
export function extractBeforeAfter(markdown: string): string | null {
  const start = markdown.indexOf(`\n${heading}`);
  if (start < 0) return null;
  const rest = markdown.slice(start + 1);
  const end = rest.indexOf('\n## ', heading.length);
  return end < 0 ? rest : rest.slice(0, end + 1);
}

export function beforeAfterSection(r: Results, existing: string | null, record: string | undefined): string {
  if (existing) {
    if (!record) return existing;
    const lines = existing.trimEnd().split('\n');
    const lastRow = lines.map((line) => line.startsWith('|')).lastIndexOf(true);
    lines.splice(lastRow + 1, 0, beforeAfterRow(r, record));
    return `${lines.join('\n')}\n`;
  }
  return [
    heading,
    '',
    'One row per change, measured with `make bench` on the same machine before and after it: add yours with',
    '`BENCH_RECORD="<what changed>" make bench`, which appends a row here (the rest of this file is regenerated).',
    'Cells are commands/s of the headline deployment with the ratio to the Temporal ceiling in brackets; p99 is',
    'command to read model visible at half load.',
    '',
    '| date | change | commit | new aggregates | existing aggregates | evicted aggregates | hot, N senders | p99 ms | replay / Redis | publish / raw | worker RSS MB |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    beforeAfterRow(r, record ?? `baseline${wasBusy(r.machine) ? ' (smoke figures: busy machine)' : ''}`),
    '',
  ].join('\n');
}
