import { html, type Html } from './html.js';

/**
 * Charts as SVG drawn on the server: no script, readable by screen readers through a title, a description and
 * the table printed next to each chart.
 */

export interface Series {
  label: string;
  allow: number;
  deny: number;
}

const W = 720;

/** Horizontal bars, one per label, allowed and denied calls stacked. */
export function barChart(id: string, title: string, rows: Series[]): Html {
  if (rows.length === 0) return html`<p class="empty">No calls in this period.</p>`;
  const rowH = 22;
  const labelW = 220;
  const max = Math.max(1, ...rows.map((r) => r.allow + r.deny));
  const scale = (W - labelW - 130) / max;
  const h = rows.length * rowH + 10;
  return html`<figure><figcaption id="${id}-t">${title}</figcaption><svg class="chart" role="img" aria-labelledby="${id}-t ${id}-d" viewBox="0 0 ${W} ${h}" xmlns="http://www.w3.org/2000/svg">
<desc id="${id}-d">${rows.map((r) => `${r.label}: ${r.allow} allowed, ${r.deny} denied. `).join('')}</desc>
${rows.map((r, i) => {
    const y = i * rowH + 4;
    const a = Math.round(r.allow * scale);
    const d = Math.round(r.deny * scale);
    return html`<text x="${labelW - 6}" y="${y + 14}" text-anchor="end">${r.label.length > 32 ? `${r.label.slice(0, 31)}…` : r.label}</text><rect class="bar-allow" x="${labelW}" y="${y}" width="${a}" height="${rowH - 6}"/><rect class="bar-deny" x="${labelW + a}" y="${y}" width="${d}" height="${rowH - 6}"/><text x="${labelW + a + d + 6}" y="${y + 14}">${r.allow + r.deny}${r.deny ? ` (${r.deny} denied)` : ''}</text>`;
  })}</svg></figure>`;
}

/** Columns over time, one per bucket, allowed and denied calls stacked. */
export function timeChart(id: string, title: string, buckets: Series[]): Html {
  const h = 160;
  const base = h - 24;
  const colW = (W - 40) / Math.max(1, buckets.length);
  const max = Math.max(1, ...buckets.map((b) => b.allow + b.deny));
  const scale = (base - 10) / max;
  return html`<figure><figcaption id="${id}-t">${title}</figcaption><svg class="chart" role="img" aria-labelledby="${id}-t ${id}-d" viewBox="0 0 ${W} ${h}" xmlns="http://www.w3.org/2000/svg">
<desc id="${id}-d">${buckets.map((b) => `${b.label}: ${b.allow} allowed, ${b.deny} denied. `).join('')}</desc>
<line class="axis" x1="30" y1="${base}" x2="${W - 5}" y2="${base}"/><text x="0" y="14">${max}</text><text x="0" y="${base}">0</text>
${buckets.map((b, i) => {
    const x = 34 + i * colW;
    const ah = Math.round(b.allow * scale);
    const dh = Math.round(b.deny * scale);
    return html`<rect class="bar-allow" x="${x}" y="${base - ah}" width="${Math.max(1, colW - 4)}" height="${ah}"/><rect class="bar-deny" x="${x}" y="${base - ah - dh}" width="${Math.max(1, colW - 4)}" height="${dh}"/>${i % 2 === 0 ? html`<text x="${x}" y="${h - 8}">${b.label}</text>` : ''}`;
  })}</svg></figure>`;
}
