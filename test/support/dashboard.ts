/** The Grafana dashboard's queries and the series they read (for the dashboard's tests). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const dashboardPath = join(__dirname, '..', '..', 'deploy', 'grafana', 'dashboards', 'ledgerflow.json');

interface Panel {
  title: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

/** Every PromQL expression of the dashboard, with its panel's title. */
export function dashboardQueries(): { panel: string; expr: string }[] {
  const dashboard = JSON.parse(readFileSync(dashboardPath, 'utf8')) as { panels: Panel[] };
  const walk = (panels: Panel[]): { panel: string; expr: string }[] =>
    panels.flatMap((p) => [...(p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })), ...walk(p.panels ?? [])]);
  return walk(dashboard.panels);
}

const promqlWords = new Set(['sum', 'max', 'min', 'avg', 'rate', 'increase', 'irate', 'histogram_quantile', 'by', 'without', 'on', 'ignoring', 'and', 'or', 'unless', 'topk', 'count']);

/** The series names an expression reads (histogram parts keep their _bucket suffix). */
export function seriesOf(expr: string): string[] {
  const bare = expr
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/"[^"]*"/g, ' ');
  return [...new Set(bare.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [])].filter((word) => !promqlWords.has(word));
}
