/**
 * The two charts of BENCHMARKS.md: each scenario's rate beside its ceiling (grouped horizontal
 * bars), and the command-to-visible latency distribution (latency by percentile, per deployment).
 */
import { document, el, formatNumber, line, niceTicks, polyline, rect, text, title } from './svg';

export interface Series {
  name: string;
  color: string;
}

export interface BarGroup {
  label: string;
  /** One value per series, in the series' order; null where it was not measured. */
  values: (number | null)[];
}

export function groupedBars(heading: string, unit: string, series: Series[], groups: BarGroup[]): string {
  const width = 980;
  const labelWidth = 330;
  const valueWidth = 90;
  const top = 64;
  const barHeight = 14;
  const groupGap = 16;
  const groupHeight = series.length * (barHeight + 2) + groupGap;
  const plotWidth = width - labelWidth - valueWidth;
  const height = top + groups.length * groupHeight + 40;
  const max = Math.max(1, ...groups.flatMap((g) => g.values.map((v) => v ?? 0)));
  const ticks = niceTicks(max);
  const scale = (v: number) => (v / ticks.at(-1)!) * plotWidth;

  const parts: string[] = [text(16, 24, heading, { 'font-size': 16, 'font-weight': 600 })];
  series.forEach((s, i) => {
    const x = labelWidth + i * 190;
    parts.push(rect(x, 36, 12, 12, s.color), text(x + 18, 46, s.name));
  });
  const plotBottom = top + groups.length * groupHeight - groupGap;
  for (const t of ticks) {
    const x = labelWidth + scale(t);
    parts.push(line(x, top - 6, x, plotBottom + 4, '#e3e3e3'), text(x, plotBottom + 20, formatNumber(t), { 'text-anchor': 'middle', fill: '#555' }));
  }
  parts.push(text(labelWidth + plotWidth / 2, plotBottom + 36, unit, { 'text-anchor': 'middle', fill: '#555' }));
  groups.forEach((group, g) => {
    const y0 = top + g * groupHeight;
    parts.push(text(labelWidth - 10, y0 + (series.length * (barHeight + 2)) / 2 + 4, group.label, { 'text-anchor': 'end' }));
    group.values.forEach((value, i) => {
      const y = y0 + i * (barHeight + 2);
      if (value === null) {
        parts.push(text(labelWidth + 4, y + barHeight - 3, 'not measured', { fill: '#999', 'font-size': 10 }));
        return;
      }
      parts.push(
        el('g', {}, rect(labelWidth, y, scale(value), barHeight, series[i]!.color) + title(`${series[i]!.name}: ${formatNumber(value)} ${unit}`)),
        text(labelWidth + scale(value) + 4, y + barHeight - 3, formatNumber(value), { 'font-size': 10, fill: '#333' }),
      );
    });
  });
  return document(width, height, parts.join('\n'));
}

export interface Curve extends Series {
  /** [percentile 0..100, latency ms], ascending. */
  points: [number, number][];
}

/**
 * Latency by percentile with the x axis in "nines" (50, 90, 99, 99.9 evenly spaced), as
 * HdrHistogram plots it: the tail, where p95 and p99 live, gets as much room as the median.
 */
export function percentileChart(heading: string, curves: Curve[]): string {
  const width = 980;
  const height = 440;
  const left = 72;
  const right = 24;
  const top = 64;
  const bottom = 56;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const nines = (p: number) => Math.log10(100 / Math.max(100 - p, 0.05)); // p100 drawn just past p99.9
  const xMax = nines(100);
  const x = (p: number) => left + (nines(p) / xMax) * plotWidth;
  const ticks = niceTicks(Math.max(1, ...curves.flatMap((c) => c.points.map(([, ms]) => ms))));
  const yMax = ticks.at(-1)!;
  const y = (ms: number) => top + plotHeight - (ms / yMax) * plotHeight;

  const parts: string[] = [text(16, 24, heading, { 'font-size': 16, 'font-weight': 600 })];
  curves.forEach((c, i) => {
    const lx = left + i * 220;
    parts.push(rect(lx, 36, 12, 12, c.color), text(lx + 18, 46, c.name));
  });
  for (const t of ticks) {
    parts.push(line(left, y(t), left + plotWidth, y(t), '#eeeeee'), text(left - 8, y(t) + 4, formatNumber(t), { 'text-anchor': 'end', fill: '#555' }));
  }
  for (const [p, label] of [[0, 'p0'], [50, 'p50'], [90, 'p90'], [95, 'p95'], [99, 'p99'], [99.9, 'p99.9'], [100, 'max']] as const) {
    parts.push(line(x(p), top, x(p), top + plotHeight, p === 99 ? '#d0d0d0' : '#eeeeee'), text(x(p), top + plotHeight + 18, label, { 'text-anchor': 'middle', fill: '#555' }));
  }
  parts.push(
    text(left + plotWidth / 2, height - 14, 'percentile of commands (tail stretched)', { 'text-anchor': 'middle', fill: '#555' }),
    text(18, top + plotHeight / 2, 'ms, command sent to read model visible', { 'text-anchor': 'middle', fill: '#555', transform: `rotate(-90 18 ${top + plotHeight / 2})` }),
    rect(left, top, plotWidth, plotHeight, 'none', { stroke: '#bbb' }),
  );
  curves.forEach((c, i) => {
    if (c.points.length === 0) return;
    parts.push(polyline(c.points.map(([p, ms]) => [x(p), y(ms)]), c.color, { 'stroke-width': 2 }));
    for (const p of [50, 95, 99]) {
      const ms = c.points.find(([q]) => q >= p)?.[1];
      if (ms === undefined) continue;
      // The first curve's labels sit above-left of their points, the others' below-right, so close curves stay legible.
      const [dx, dy, anchor] = i === 0 ? [-6, -6, 'end'] : [6, 14, 'start'];
      parts.push(
        el('circle', { cx: x(p), cy: y(ms), r: 3.5, fill: c.color }),
        text(x(p) + dx, y(ms) + dy, `p${p} ${formatNumber(ms)} ms`, { 'font-size': 10, fill: c.color, 'text-anchor': anchor }),
      );
    }
  });
  return document(width, height, parts.join('\n'));
}
