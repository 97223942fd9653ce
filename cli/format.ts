/** How the `ledgerflow` CLI prints for people (with --json it prints the values themselves). */
import type { SetupReport } from '../infra/setup';
import type { ParkedEvent } from '../projectors/apply';
import type { MissingHistory } from '../projectors/rebuild';
import type { ProjectionStatus } from '../projectors/status';

export function formatStatus(s: ProjectionStatus): string {
  const lag = s.lagEvents === null ? 'lag ?' : `lag ${s.lagEvents} events / ${s.lagSeconds.toFixed(1)}s`;
  const lines = [
    `${s.name}  ${s.state.toUpperCase()}  generation ${s.generation ?? '-'}  version ${s.version}  owner ${s.owner ?? '-'}`,
    `  checkpoint ${s.checkpoint ?? '-'}  tail ${s.tail ?? '-'}  ${lag}  ${s.eventsPerSecond} events/s  parked ${s.parked}  duplicates skipped ${s.duplicatesSkipped}  gaps ${s.gaps}  open gaps ${s.gapsOpen}`,
  ];
  if (s.halted) lines.push(`  HALTED ${s.halted.code} since ${s.halted.since}: the parked list holds its limit of ${s.halted.limit}; re-drive to make room`);
  if (s.trimmed) lines.push(`  offsets ${s.trimmed.from}..${s.trimmed.to} were trimmed from the log before this projection read them`);
  if (s.rebuild) lines.push(`  ${formatRebuild(s.rebuild)}`);
  return lines.join('\n');
}

export type RebuildProgress = NonNullable<ProjectionStatus['rebuild']>;

export function formatRebuild(r: RebuildProgress): string {
  const percent = r.total ? ` (${((100 * r.done) / r.total).toFixed(1)}%)` : '';
  const eta = r.etaSeconds === null ? '' : `, ${r.etaSeconds}s left`;
  const held = r.held ? `; HELD (${r.held.code}): the log lacks the history of ${r.held.gaps} aggregate(s)` : '';
  return `rebuilding generation ${r.generation}: ${r.done} of ${r.total ?? '?'} events${percent}, ${r.eventsPerSecond} events/s${eta}${held}`;
}

/** `[██████░░░░░░░░]  42.0%  4200/10000 events  1500 events/s  4s left`, for a terminal only. */
export function progressBar(r: RebuildProgress, width = 24): string {
  const fraction = r.total ? Math.min(1, r.done / r.total) : 0;
  const filled = Math.round(fraction * width);
  const bar = r.total ? `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${(100 * fraction).toFixed(1).padStart(5)}%` : '[counting events…]';
  const eta = r.etaSeconds === null ? '' : `  ${r.etaSeconds}s left`;
  return `${bar}  ${r.done}/${r.total ?? '?'} events  ${r.eventsPerSecond} events/s${eta}`;
}

/** The aggregates whose history the log lacks, one a line. */
export function formatGaps(gaps: readonly MissingHistory[], total: number): string {
  const lines = gaps.map(
    (g) => `  ${g.aggregate}: versions ${g.expected}..${g.got - 1} missing (${g.offset < 0 ? 'none of its events is left in the log' : `the log holds v${g.got} at offset ${g.offset}`})`,
  );
  return [...lines, ...(total > gaps.length ? [`  … and ${total - gaps.length} more`] : [])].join('\n');
}

export function formatParked(p: ParkedEvent): string {
  return `offset ${p.offset}  ${p.aggregate ?? '?'} v${p.version ?? '?'}  ${p.parkedAt}  ${p.error}`;
}

export function formatSetup(report: SetupReport, dryRun: boolean): string {
  const list = (lines: string[]) => (lines.length === 0 ? ['  nothing'] : lines.map((line) => `  ${line}`));
  const verdict = report.ok ? 'ready' : dryRun && report.changed.length > 0 ? 'not ready: run ledgerflow setup' : 'NOT READY: see above';
  return ['checked:', ...list(report.checked), dryRun ? 'would change:' : 'changed:', ...list(report.changed), verdict].join('\n');
}
