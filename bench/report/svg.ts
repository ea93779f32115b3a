// Hand-written SVG charts (no dependency): grouped bars, stacked bars, lines, scatter.
import { escapeXml as esc } from '../../lib/util/xml-escape';

const COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const e = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * e >= v) return m * e;
  return 10 * e;
}

/** Grouped bar chart: one group per category, one bar per series. */
export function barChart(o: { title: string; categories: string[]; series: Array<{ name: string; values: number[] }>; unit: string; width?: number; height?: number }): string {
  const W = o.width ?? 760, H = o.height ?? 360, L = 70, R = 20, T = 40, B = 80;
  const pw = W - L - R, ph = H - T - B;
  const max = niceMax(Math.max(...o.series.flatMap((s) => s.values.filter(Number.isFinite))));
  const gw = pw / Math.max(1, o.categories.length);
  const bw = (gw * 0.8) / Math.max(1, o.series.length);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(o.title)}</text>`);
  for (let i = 0; i <= 5; i++) {
    const v = (max * i) / 5, y = T + ph - (ph * i) / 5;
    parts.push(`<line x1="${L}" y1="${y}" x2="${W - R}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${L - 5}" y="${y + 4}" text-anchor="end">${+v.toPrecision(3)}</text>`);
  }
  parts.push(`<text x="15" y="${T + ph / 2}" transform="rotate(-90 15 ${T + ph / 2})" text-anchor="middle">${esc(o.unit)}</text>`);
  o.categories.forEach((c, ci) => {
    const gx = L + ci * gw + gw * 0.1;
    o.series.forEach((s, si) => {
      const v = s.values[ci];
      if (!Number.isFinite(v)) return;
      const h = (ph * v) / max;
      const x = gx + si * bw;
      parts.push(`<rect x="${x.toFixed(1)}" y="${(T + ph - h).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[si % COLORS.length]}"><title>${esc(`${s.name} ${c}: ${v.toFixed(3)} ${o.unit}`)}</title></rect>`);
      parts.push(`<text x="${(x + bw / 2 - 1).toFixed(1)}" y="${(T + ph - h - 3).toFixed(1)}" text-anchor="middle" font-size="9">${+v.toPrecision(3)}</text>`);
    });
    parts.push(`<text x="${(L + ci * gw + gw / 2).toFixed(1)}" y="${T + ph + 15}" text-anchor="middle">${esc(c)}</text>`);
  });
  parts.push(`<line x1="${L}" y1="${T + ph}" x2="${W - R}" y2="${T + ph}" stroke="black"/>`);
  o.series.forEach((s, si) => {
    const x = L + si * 150, y = H - 25;
    parts.push(`<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${COLORS[si % COLORS.length]}"/><text x="${x + 14}" y="${y}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/** Horizontal stacked bar: one bar per row, segments per stage. */
export function stackedBarChart(o: { title: string; rows: string[]; segments: Array<{ name: string; values: number[] }>; unit: string; width?: number }): string {
  const W = o.width ?? 760, rowH = 28, L = 170, R = 30, T = 40;
  const H = T + o.rows.length * rowH + 30 + Math.ceil(o.segments.length / 4) * 18;
  const pw = W - L - R;
  const totals = o.rows.map((_, ri) => o.segments.reduce((a, s) => a + (Number.isFinite(s.values[ri]) ? Math.max(0, s.values[ri]) : 0), 0));
  const max = niceMax(Math.max(...totals));
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(`${o.title} (${o.unit})`)}</text>`);
  for (let i = 0; i <= 5; i++) {
    const x = L + (pw * i) / 5;
    parts.push(`<line x1="${x}" y1="${T - 5}" x2="${x}" y2="${T + o.rows.length * rowH}" stroke="#ddd"/>`);
    parts.push(`<text x="${x}" y="${T + o.rows.length * rowH + 12}" text-anchor="middle">${+((max * i) / 5).toPrecision(3)}</text>`);
  }
  o.rows.forEach((r, ri) => {
    const y = T + ri * rowH;
    parts.push(`<text x="${L - 5}" y="${y + rowH / 2 + 4}" text-anchor="end">${esc(r)}</text>`);
    let x = L;
    o.segments.forEach((s, si) => {
      const v = Number.isFinite(s.values[ri]) ? Math.max(0, s.values[ri]) : 0;
      const w = (pw * v) / max;
      parts.push(`<rect x="${x.toFixed(1)}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${COLORS[si % COLORS.length]}"><title>${esc(`${r} ${s.name}: ${v.toFixed(3)} ${o.unit}`)}</title></rect>`);
      x += w;
    });
    parts.push(`<text x="${(x + 3).toFixed(1)}" y="${y + rowH / 2 + 4}">${totals[ri].toFixed(1)}</text>`);
  });
  o.segments.forEach((s, si) => {
    const x = 10 + (si % 4) * 185, y = T + o.rows.length * rowH + 30 + Math.floor(si / 4) * 18;
    parts.push(`<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${COLORS[si % COLORS.length]}"/><text x="${x + 14}" y="${y}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/** Line chart with a log-10 x axis (e.g. index size). */
export function lineChart(o: { title: string; xs: number[]; series: Array<{ name: string; values: number[] }>; unit: string; xLabel: string; logX?: boolean; logY?: boolean; width?: number; height?: number }): string {
  const W = o.width ?? 760, L = 70, R = 20, T = 40;
  const perRow = Math.max(1, Math.floor((W - L) / 175));
  const legendRows = Math.ceil(o.series.length / perRow);
  const B = 56 + legendRows * 16;
  const H = (o.height ?? 360) + (legendRows - 1) * 16;
  const pw = W - L - R, ph = H - T - B;
  const fx = (v: number) => (o.logX ? Math.log10(v) : v);
  const xmin = fx(Math.min(...o.xs)), xmax = fx(Math.max(...o.xs));
  const all = o.series.flatMap((s) => s.values.filter((v) => Number.isFinite(v) && (!o.logY || v > 0)));
  let ymin = 0, ymax = niceMax(Math.max(...all, 1e-9));
  const fy = (v: number) => (o.logY ? Math.log10(v) : v);
  if (o.logY) {
    ymin = Math.floor(Math.log10(Math.min(...all)));
    ymax = Math.ceil(Math.log10(Math.max(...all)));
    if (ymax === ymin) ymax = ymin + 1;
  }
  const X = (v: number) => L + (xmax === xmin ? pw / 2 : ((fx(v) - xmin) / (xmax - xmin)) * pw);
  const Y = (v: number) => T + ph - ((fy(v) - ymin) / (ymax - ymin)) * ph;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(o.title)}</text>`);
  const ticks = o.logY ? Array.from({ length: ymax - ymin + 1 }, (_, i) => Math.pow(10, ymin + i)) : Array.from({ length: 6 }, (_, i) => (ymax * i) / 5);
  for (const v of ticks) {
    const y = Y(v);
    parts.push(`<line x1="${L}" y1="${y}" x2="${W - R}" y2="${y}" stroke="#ddd"/><text x="${L - 5}" y="${y + 4}" text-anchor="end">${+v.toPrecision(3)}</text>`);
  }
  const every = Math.ceil(o.xs.length / 12);
  o.xs.forEach((x, i) => {
    if (i % every === 0) parts.push(`<text x="${X(x)}" y="${T + ph + 15}" text-anchor="middle">${x >= 1000 ? `${+(x / 1000).toPrecision(3)}k` : x}</text>`);
  });
  parts.push(`<text x="${L + pw / 2}" y="${T + ph + 32}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  parts.push(`<text x="15" y="${T + ph / 2}" transform="rotate(-90 15 ${T + ph / 2})" text-anchor="middle">${esc(o.unit)}${o.logY ? ' (log)' : ''}</text>`);
  o.series.forEach((s, si) => {
    const pts = o.xs.map((x, i) => [x, s.values[i]] as const).filter(([, v]) => Number.isFinite(v) && (!o.logY || v > 0));
    if (!pts.length) return;
    parts.push(`<polyline fill="none" stroke="${COLORS[si % COLORS.length]}" stroke-width="2" points="${pts.map(([x, v]) => `${X(x).toFixed(1)},${Y(v).toFixed(1)}`).join(' ')}"/>`);
    for (const [x, v] of pts) parts.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(v).toFixed(1)}" r="3" fill="${COLORS[si % COLORS.length]}"><title>${esc(`${s.name} @ ${x}: ${v}`)}</title></circle>`);
    const lx = L + (si % perRow) * 175, ly = H - 12 - (legendRows - 1 - Math.floor(si / perRow)) * 16;
    parts.push(`<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${COLORS[si % COLORS.length]}"/><text x="${lx + 14}" y="${ly}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}


/** Points joined per series, each series with its own x values (e.g. recall against latency); optional log-10 x axis and guide lines. */
export function scatterChart(o: { title: string; series: Array<{ name: string; points: Array<[number, number]> }>; xLabel: string; yLabel: string; logX?: boolean; yMin?: number; yMax?: number; guides?: { x?: number; y?: number }; width?: number; height?: number }): string {
  const W = o.width ?? 760, L = 70, R = 20, T = 40;
  const perRow = Math.max(1, Math.floor((W - L) / 175));
  const legendRows = Math.ceil(o.series.length / perRow);
  const B = 56 + legendRows * 16;
  const H = (o.height ?? 380) + (legendRows - 1) * 16;
  const pw = W - L - R, ph = H - T - B;
  const pts = o.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!o.logX || x > 0));
  const fx = (v: number) => (o.logX ? Math.log10(v) : v);
  let xmin = Math.min(...pts.map((p) => fx(p[0]))), xmax = Math.max(...pts.map((p) => fx(p[0])));
  if (o.guides?.x !== undefined) { xmin = Math.min(xmin, fx(o.guides.x)); xmax = Math.max(xmax, fx(o.guides.x)); }
  if (o.logX) { xmin = Math.floor(xmin); xmax = Math.ceil(xmax); }
  if (xmax === xmin) xmax = xmin + 1;
  const ymin = o.yMin ?? Math.min(...pts.map((p) => p[1])), ymax = o.yMax ?? niceMax(Math.max(...pts.map((p) => p[1])));
  const X = (v: number) => L + ((fx(v) - xmin) / (xmax - xmin)) * pw;
  const Y = (v: number) => T + ph - ((v - ymin) / (ymax - ymin || 1)) * ph;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(o.title)}</text>`);
  for (let i = 0; i <= 5; i++) {
    const v = ymin + ((ymax - ymin) * i) / 5, y = Y(v);
    parts.push(`<line x1="${L}" y1="${y}" x2="${W - R}" y2="${y}" stroke="#ddd"/><text x="${L - 5}" y="${y + 4}" text-anchor="end">${+v.toPrecision(3)}</text>`);
  }
  const xticks = o.logX ? Array.from({ length: xmax - xmin + 1 }, (_, i) => Math.pow(10, xmin + i)) : Array.from({ length: 6 }, (_, i) => xmin + ((xmax - xmin) * i) / 5);
  for (const v of xticks) parts.push(`<line x1="${X(v)}" y1="${T}" x2="${X(v)}" y2="${T + ph}" stroke="#eee"/><text x="${X(v)}" y="${T + ph + 15}" text-anchor="middle">${+v.toPrecision(3)}</text>`);
  if (o.guides?.x !== undefined) parts.push(`<line x1="${X(o.guides.x)}" y1="${T}" x2="${X(o.guides.x)}" y2="${T + ph}" stroke="#c00" stroke-dasharray="4 3"/>`);
  if (o.guides?.y !== undefined) parts.push(`<line x1="${L}" y1="${Y(o.guides.y)}" x2="${W - R}" y2="${Y(o.guides.y)}" stroke="#c00" stroke-dasharray="4 3"/>`);
  parts.push(`<text x="${L + pw / 2}" y="${T + ph + 32}" text-anchor="middle">${esc(o.xLabel)}${o.logX ? ' (log)' : ''}</text>`);
  parts.push(`<text x="15" y="${T + ph / 2}" transform="rotate(-90 15 ${T + ph / 2})" text-anchor="middle">${esc(o.yLabel)}</text>`);
  o.series.forEach((s, si) => {
    const p = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!o.logX || x > 0)).sort((a, b) => a[0] - b[0]);
    const c = COLORS[si % COLORS.length];
    if (p.length > 1) parts.push(`<polyline fill="none" stroke="${c}" stroke-width="1.5" points="${p.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ')}"/>`);
    for (const [x, y] of p) parts.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="3.5" fill="${c}"><title>${esc(`${s.name}: ${x} / ${y}`)}</title></circle>`);
    const lx = L + (si % perRow) * 175, ly = H - 12 - (legendRows - 1 - Math.floor(si / perRow)) * 16;
    parts.push(`<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${c}"/><text x="${lx + 14}" y="${ly}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
