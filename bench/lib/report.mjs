// The benchmark's outputs: markdown tables, and an SVG of the latency distributions.
import { percentile } from './load.mjs';

export const PERCENTILES = [0.5, 0.9, 0.99, 0.999];
const fmt = (ms) => (Number.isFinite(ms) ? ms.toFixed(3) : '—');

export function summarize(latencies) {
  const sorted = Float64Array.from(latencies).sort();
  return Object.fromEntries(PERCENTILES.map((p) => [`p${p * 100}`, percentile(sorted, p)]));
}

/** Added latency per percentile: the path's percentile minus the direct run's at the same rate. */
export function added(path, direct) {
  return Object.fromEntries(Object.keys(path).map((k) => [k, path[k] - direct[k]]));
}

export function latencyTable(rows) {
  const head = '| path | rate | achieved req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | added p50 | added p90 | added p99 | added p99.9 | CPU µs/req | errors |';
  const lines = [head, `|${' --- |'.repeat(13)}`];
  for (const r of rows) {
    const a = r.added ?? {};
    lines.push(
      `| ${r.path} | ${r.rate ?? 'peak'} | ${Math.round(r.rps)} | ${fmt(r.latency.p50)} | ${fmt(r.latency.p90)} | ${fmt(r.latency.p99)} | ${fmt(r.latency['p99.9'])} | ` +
        `${fmt(a.p50)} | ${fmt(a.p90)} | ${fmt(a.p99)} | ${fmt(a['p99.9'])} | ${r.cpuMicros === null ? '—' : Math.round(r.cpuMicros)} | ${r.errors} |`,
    );
  }
  return lines.join('\n');
}

export function stageTable(stages) {
  const lines = ['| stage | p50 ms | p99 ms |', '| --- | --- | --- |'];
  for (const [name, values] of Object.entries(stages)) {
    const sorted = Float64Array.from(values).sort();
    lines.push(`| ${name} | ${fmt(percentile(sorted, 0.5))} | ${fmt(percentile(sorted, 0.99))} |`);
  }
  return lines.join('\n');
}

const CURVE_POINTS = [0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999];
const COLOURS = ['#555', '#1f77b4', '#2ca02c', '#d62728', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

/** Latency by percentile (x: log of 1/(1-p)), one curve per path, as a self-contained SVG. */
export function latencySvg(title, series) {
  const W = 760;
  const H = 420;
  const left = 60;
  const right = 220;
  const top = 40;
  const bottom = 50;
  const xOf = (p) => left + ((Math.log10(1 / (1 - p)) - Math.log10(2)) / (Math.log10(1000) - Math.log10(2))) * (W - left - right);
  const curves = series.map(({ name, latencies }) => {
    const sorted = Float64Array.from(latencies).sort();
    return { name, points: CURVE_POINTS.map((p) => [p, percentile(sorted, p)]) };
  });
  const maxMs = Math.max(0.5, ...curves.flatMap((c) => c.points.map(([, v]) => (Number.isFinite(v) ? v : 0))));
  const yOf = (ms) => H - bottom - (ms / maxMs) * (H - top - bottom);
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${left}" y="22" font-size="14">${esc(title)}</text>`,
    `<line x1="${left}" y1="${H - bottom}" x2="${W - right}" y2="${H - bottom}" stroke="black"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${H - bottom}" stroke="black"/>`,
  ];
  for (const p of CURVE_POINTS) {
    out.push(`<text x="${xOf(p)}" y="${H - bottom + 16}" text-anchor="middle">p${+(p * 100).toFixed(1)}</text>`);
  }
  for (let i = 0; i <= 4; i++) {
    const ms = (maxMs * i) / 4;
    out.push(`<text x="${left - 6}" y="${yOf(ms) + 4}" text-anchor="end">${ms.toFixed(2)}</text>`);
    out.push(`<line x1="${left}" y1="${yOf(ms)}" x2="${W - right}" y2="${yOf(ms)}" stroke="#eee"/>`);
  }
  out.push(`<text x="14" y="${(H - bottom + top) / 2}" transform="rotate(-90 14 ${(H - bottom + top) / 2})" text-anchor="middle">latency, ms</text>`);
  curves.forEach(({ name, points }, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const finite = points.filter(([, v]) => Number.isFinite(v));
    out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${finite.map(([p, v]) => `${xOf(p).toFixed(1)},${yOf(v).toFixed(1)}`).join(' ')}"/>`);
    out.push(`<rect x="${W - right + 16}" y="${top + i * 20}" width="12" height="12" fill="${colour}"/>`);
    out.push(`<text x="${W - right + 34}" y="${top + i * 20 + 10}">${esc(name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
