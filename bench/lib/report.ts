/** Plain-text output: number formatting and tables. */
import type { Measured } from './rounds.js';

export function fmt(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

/** Plain-text table: first column left-aligned, the rest right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('   ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** Table columns for measurements: throughput, latency, then CPU per request for each measured process. */
export function measurementRow(
  name: string,
  m: { rps: number; meanMs: number; p99Ms: number; errors: number; cpuMsPerRequest: Record<string, number>; clientCpuMsPerRequest: number; foreignCpuShare: number },
  processes: readonly Measured[],
  onPath: readonly string[],
): string[] {
  return [
    name,
    fmt(m.rps, 0),
    fmt(m.meanMs, 2),
    fmt(m.p99Ms, 2),
    // A process off the request path sits idle; show a dash rather than its idle noise.
    ...processes.map((p) => (onPath.includes(p.label) ? fmt(m.cpuMsPerRequest[p.label]!, 3) : '-')),
    fmt(m.clientCpuMsPerRequest, 3),
    `${fmt(m.foreignCpuShare * 100, 0)}%`,
    String(m.errors),
  ];
}

export function measurementHeader(processes: readonly Measured[]): string[] {
  return ['target', 'req/s', 'mean ms', 'p99 ms', ...processes.map((p) => `${p.label} CPU ms/req`), 'client CPU ms/req', 'other load', 'errors'];
}
