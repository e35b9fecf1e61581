/** Server logs (line and warning counts) and .cpuprofile summaries. */
import { createReadStream, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fmt, table } from './report.js';

/** Counts lines of a (pino JSON) log file and collects the first few at warn level or above. */
export async function scanLog(file: string, keep = 5): Promise<{ lines: number; bytes: number; warnings: number; samples: string[] }> {
  let lines = 0;
  let bytes = 0;
  let warnings = 0;
  const samples: string[] = [];
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of rl) {
    lines++;
    bytes += Buffer.byteLength(line) + 1;
    const level = /"level":(\d+)/.exec(line);
    const isWarning = level ? Number(level[1]) >= 40 : !line.startsWith('{') && !line.startsWith('warden: serving');
    if (isWarning) {
      warnings++;
      if (samples.length < keep) samples.push(line.slice(0, 400));
    }
  }
  return { lines, bytes, warnings, samples };
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface Hotspot {
  name: string;
  selfMs: number;
  share: number;
}

/** Where a frame's code lives: a package, node internals, the project, or the VM itself. */
function codeArea(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').replace(/\/.*$/, '');
  const project = /\/(dist|src|bench|test)\/(.*)$/.exec(url);
  return project ? `${project[1]}/${project[2]}` : url;
}

/**
 * Self time per function and per code area (package / node module / project file) of a .cpuprofile. Shares
 * are of the busy time (samples that were not idle); program and GC buckets are kept, they are part of it.
 * The profile covers the main thread only: libuv pool work (fs writes) shows in /proc CPU, not here.
 */
export function summarizeCpuProfile(file: string, top = 15): { busyMs: number; idleMs: number; functions: Hotspot[]; areas: Hotspot[] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const fn = new Map<string, number>();
  const area = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const where = frame.url ? `${codeArea(frame.url, frame.functionName)}:${frame.lineNumber + 1}` : '';
    const key = `${frame.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const a = codeArea(frame.url, frame.functionName);
    area.set(a, (area.get(a) ?? 0) + us);
    busy += us;
  }
  const rank = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, selfMs: us / 1000, share: busy ? us / busy : 0 }));
  return { busyMs: busy / 1000, idleMs: idle / 1000, functions: rank(fn), areas: rank(area) };
}

export function cpuProfilesIn(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f));
  } catch {
    return [];
  }
}

/** A profile summary as text: busy time, then self time by code area and by function, with shares of busy time. */
export function formatProfile(title: string, p: { busyMs: number; idleMs: number; functions: Hotspot[]; areas: Hotspot[] }): string[] {
  const rows = (hs: Hotspot[]) => hs.map((h) => [h.name, fmt(h.selfMs, 0), `${fmt(h.share * 100, 1)}%`]);
  return [
    `${title}: main thread busy ${fmt(p.busyMs, 0)} ms (idle ${fmt(p.idleMs, 0)} ms, startup included); self time by area:`,
    table(['area', 'self ms', 'share'], rows(p.areas)),
    '',
    'top functions by self time (share of busy time):',
    table(['function', 'self ms', 'share'], rows(p.functions)),
  ];
}
