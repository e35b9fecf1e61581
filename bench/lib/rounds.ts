/** Scenarios and interleaved measurement rounds: load plus CPU per request of every measured process. */
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'undici';
import { machineBusyCpuMs, processCpuMs, selfCpuMs } from './cpu.js';
import { loadPool, runLoad, type LoadRequest, type LoadResult } from './load.js';
import type { BenchOptions } from './options.js';
import { fmt } from './report.js';

/** A process whose CPU time is accounted per request. */
export interface Measured {
  label: string;
  pid: number;
}

/** One target of a benchmark: a name, an MCP endpoint, and which measured processes the requests cross. */
export interface Scenario {
  name: string;
  /** Full endpoint URL, e.g. http://127.0.0.1:1234/mcp/bench. */
  url: string;
  /** Labels (of the `Measured` processes) on this scenario's request path. */
  path: string[];
  /** Headers this target needs besides the MCP ones (a credential). */
  headers?: Record<string, string>;
}

export interface Measurement {
  scenario: string;
  round: number;
  load: LoadResult;
  /** CPU ms per successful request, per measured process label (also for processes off the path: idle cost). */
  cpuMsPerRequest: Record<string, number>;
  /** CPU ms per request of the load generator itself. */
  clientCpuMsPerRequest: number;
  /**
   * Share of the machine's total CPU capacity used by processes other than the measured ones and the load
   * generator during the run (0..1). Much above 0.05 and the run is noisy: something else is busy.
   */
  foreignCpuShare: number;
}

export interface RunPlan {
  scenarios: Scenario[];
  processes: Measured[];
  /** Builds the request for a scenario (same request everywhere for a fair comparison). */
  request: (scenario: Scenario) => LoadRequest;
  /** Checks one answer in full before any load. */
  verify?: (pool: Pool, scenario: Scenario) => Promise<void>;
  options: BenchOptions;
  /** Progress lines (stderr). */
  progress?: (line: string) => void;
  /** Called once warm-up is over, just before round 1 (e.g. to cut a CPU profile to the measured part). */
  onRoundsStart?: () => void;
}

/** Above this share of the machine used by other programs, a run is flagged as noisy. */
export const FOREIGN_WARN = 0.05;

/** Pause between runs so the previous run's tail (log flushing, GC, closed sockets) is not billed to the next. */
const SETTLE_MS = 300;

/**
 * Warms every scenario up, then runs `rounds` rounds; each round runs every scenario once, in list order in
 * rounds 1, 3, ... and reversed in rounds 2, 4, ..., so drift (thermal, JIT, page cache) does not favour one target.
 */
export async function runRounds(plan: RunPlan): Promise<{ rounds: Measurement[]; warmup: Record<string, LoadResult> }> {
  const { options } = plan;
  const progress = plan.progress ?? (() => {});
  const pools = new Map<string, Pool>();
  try {
    for (const s of plan.scenarios) {
      const url = new URL(s.url);
      const pool = loadPool(url.origin, options.concurrency);
      pools.set(s.name, pool);
      await plan.verify?.(pool, s);
    }
    const warmup: Record<string, LoadResult> = {};
    for (const s of plan.scenarios) {
      progress(`warmup ${s.name} ${options.warmupSeconds}s`);
      const warm = await runLoad(pools.get(s.name)!, plan.request(s), options.concurrency, options.warmupSeconds * 1000);
      if (warm.requests === 0) throw new Error(`${s.name}: no successful request during warmup (${warm.firstError ?? 'no answer'})`);
      warmup[s.name] = warm;
      await sleep(SETTLE_MS);
    }
    const results: Measurement[] = [];
    plan.onRoundsStart?.();
    for (let round = 1; round <= options.rounds; round++) {
      const order = round % 2 === 1 ? plan.scenarios : [...plan.scenarios].reverse();
      for (const s of order) {
        const machineBefore = machineBusyCpuMs();
        const cpuBefore = plan.processes.map((p) => processCpuMs(p.pid));
        const selfBefore = selfCpuMs();
        const wallBefore = performance.now();
        const load = await runLoad(pools.get(s.name)!, plan.request(s), options.concurrency, options.seconds * 1000);
        await sleep(SETTLE_MS);
        const selfAfter = selfCpuMs();
        const cpuAfter = plan.processes.map((p) => processCpuMs(p.pid));
        const machineAfter = machineBusyCpuMs();
        const wall = performance.now() - wallBefore;
        const per = (ms: number) => (load.requests > 0 ? ms / load.requests : Number.NaN);
        const cpuMsPerRequest: Record<string, number> = {};
        let ours = selfAfter - selfBefore;
        plan.processes.forEach((p, i) => {
          const used = cpuAfter[i]! - cpuBefore[i]!;
          cpuMsPerRequest[p.label] = per(used);
          ours += used;
        });
        const foreignCpuShare = Math.max(0, (machineAfter - machineBefore - ours) / (wall * cpus().length));
        results.push({ scenario: s.name, round, load, cpuMsPerRequest, clientCpuMsPerRequest: per(selfAfter - selfBefore), foreignCpuShare });
        const busy = foreignCpuShare > FOREIGN_WARN ? `, other processes used ${fmt(foreignCpuShare * 100, 0)}% of the machine (noisy)` : '';
        progress(`round ${round} ${s.name}: ${fmt(load.rps, 0)} req/s, p99 ${fmt(load.p99Ms, 2)} ms${load.errors ? `, ${load.errors} errors` : ''}${busy}`);
      }
    }
    return { rounds: results, warmup };
  } finally {
    await Promise.all([...pools.values()].map((p) => p.destroy()));
  }
}
