/** A few SVG elements as strings: enough for bar and line charts, no dependency. */
type Attrs = Record<string, string | number | undefined>;

export const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const attrs = (a: Attrs) =>
  Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${typeof v === 'number' ? Math.round(v * 100) / 100 : escapeXml(v!)}"`)
    .join('');

export const el = (name: string, a: Attrs, children = '') => (children ? `<${name}${attrs(a)}>${children}</${name}>` : `<${name}${attrs(a)}/>`);

export const rect = (x: number, y: number, width: number, height: number, fill: string, extra: Attrs = {}) =>
  el('rect', { x, y, width: Math.max(0, width), height: Math.max(0, height), fill, ...extra });

export const line = (x1: number, y1: number, x2: number, y2: number, stroke: string, extra: Attrs = {}) => el('line', { x1, y1, x2, y2, stroke, ...extra });

export const text = (x: number, y: number, content: string, extra: Attrs = {}) => el('text', { x, y, ...extra }, escapeXml(content));

export const polyline = (points: [number, number][], stroke: string, extra: Attrs = {}) =>
  el('polyline', { points: points.map(([x, y]) => `${Math.round(x * 10) / 10},${Math.round(y * 10) / 10}`).join(' '), fill: 'none', stroke, ...extra });

export const title = (content: string) => el('title', {}, escapeXml(content));

export function document(width: number, height: number, body: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
    `font-family="-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="12">\n` +
    `${rect(0, 0, width, height, '#ffffff')}\n${body}\n</svg>\n`
  );
}

/** Round axis steps (1, 2, 5 × 10^n) covering 0..max in about `count` ticks. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let t = 0; t <= max + step * 0.999; t += step) ticks.push(Math.round(t * 1e6) / 1e6);
  return ticks;
}

export const formatNumber = (n: number) => (n >= 1000 ? n.toLocaleString('en-US', { maximumFractionDigits: 0 }) : String(Math.round(n * 10) / 10));
