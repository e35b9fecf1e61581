/** Percentiles, medians and the per-scenario summary over rounds. */
import type { Measured, Measurement, Scenario } from './rounds.js';

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = finite.length >> 1;
  return finite.length % 2 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}

export interface Summary {
  scenario: string;
  rps: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  cpuMsPerRequest: Record<string, number>;
  clientCpuMsPerRequest: number;
  /** Highest share of the machine other programs used in any round. */
  foreignCpuShare: number;
}

/** Median over rounds, metric by metric, per scenario. */
export function summarize(results: readonly Measurement[], scenarios: readonly Scenario[], processes: readonly Measured[]): Summary[] {
  return scenarios.map((s) => {
    const mine = results.filter((r) => r.scenario === s.name);
    const cpu: Record<string, number> = {};
    for (const p of processes) cpu[p.label] = median(mine.map((r) => r.cpuMsPerRequest[p.label]!));
    return {
      scenario: s.name,
      rps: median(mine.map((r) => r.load.rps)),
      meanMs: median(mine.map((r) => r.load.meanMs)),
      p50Ms: median(mine.map((r) => r.load.p50Ms)),
      p99Ms: median(mine.map((r) => r.load.p99Ms)),
      errors: mine.reduce((n, r) => n + r.load.errors, 0),
      cpuMsPerRequest: cpu,
      clientCpuMsPerRequest: median(mine.map((r) => r.clientCpuMsPerRequest)),
      foreignCpuShare: Math.max(...mine.map((r) => r.foreignCpuShare)),
    };
  });
}
