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
  /** Self time per call in µs, when the number of calls in the window is known. */
  usPerCall?: number;
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  /** Self time by function (name, file:line). */
  functions: Hotspot[];
  /** Self time by code area: package, node module, project file, or VM bucket. */
  areas: Hotspot[];
  /** Time with the area anywhere on the stack (a sample counts once per area on its stack): what runs under it. */
  totalAreas: Hotspot[];
  /** The summarized window is only part of the profile (startup left out). */
  windowed: boolean;
}

export interface ProfileWindow {
  /** Rows per table (default 15). */
  top?: number;
  /**
   * Only samples in [fromUs, toUs], in the profile's clock: V8 stamps samples with the monotonic clock in µs,
   * the one `process.hrtime.bigint() / 1000n` reads in any process on the machine. Leaves startup out.
   */
  fromUs?: number;
  toUs?: number;
  /** Calls served in the window: adds µs per call to every row. */
  calls?: number;
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

/** The monotonic clock CPU profiles are stamped with, in µs. */
export function profileClockUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * Self time per function and per code area (package / node module / project file) of a .cpuprofile, and
 * total time per area. Shares are of the busy time (samples that were not idle); program and GC buckets are
 * kept, they are part of it. The profile covers the main thread only: libuv pool work (fs writes) and
 * SQLite's work inside a synchronous better-sqlite3 call do show (the latter as its JS caller's self time).
 */
export function summarizeCpuProfile(file: string, window: ProfileWindow = {}): ProfileSummary {
  const { top = 15, fromUs = -Infinity, toUs = Infinity, calls } = window;
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at >= fromUs && at <= toUs) selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });
  const fn = new Map<string, number>();
  const area = new Map<string, number>();
  const total = new Map<string, number>();
  const add = (m: Map<string, number>, key: string, us: number) => m.set(key, (m.get(key) ?? 0) + us);
  let busy = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const where = frame.url ? `${codeArea(frame.url, frame.functionName)}:${frame.lineNumber + 1}` : '';
    add(fn, `${frame.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`, us);
    add(area, codeArea(frame.url, frame.functionName), us);
    const onStack = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const f = byId.get(n)!.callFrame;
      if (f.functionName !== '(root)') onStack.add(codeArea(f.url, f.functionName));
    }
    for (const a of onStack) add(total, a, us);
    busy += us;
  }
  const rank = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, selfMs: us / 1000, share: busy ? us / busy : 0, ...(calls ? { usPerCall: us / calls } : {}) }));
  return { busyMs: busy / 1000, idleMs: idle / 1000, functions: rank(fn), areas: rank(area), totalAreas: rank(total), windowed: Number.isFinite(fromUs) || Number.isFinite(toUs) };
}

export function cpuProfilesIn(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f));
  } catch {
    return [];
  }
}

/** A profile summary as text: busy time, then self time by code area and by function, total time by area. */
export function formatProfile(title: string, p: ProfileSummary): string[] {
  const perCall = p.functions[0]?.usPerCall !== undefined;
  const header = (first: string, ms: string) => [first, ms, 'share', ...(perCall ? ['µs/call'] : [])];
  const rows = (hs: Hotspot[]) => hs.map((h) => [h.name, fmt(h.selfMs, 0), `${fmt(h.share * 100, 1)}%`, ...(perCall ? [fmt(h.usPerCall!, 1)] : [])]);
  return [
    `${title}: main thread busy ${fmt(p.busyMs, 0)} ms (idle ${fmt(p.idleMs, 0)} ms${p.windowed ? ', measured rounds only' : ', startup included'}); self time by area:`,
    table(header('area', 'self ms'), rows(p.areas)),
    '',
    'top functions by self time (share of busy time):',
    table(header('function', 'self ms'), rows(p.functions)),
    '',
    'total time by area (the area anywhere on the stack; shares overlap):',
    table(header('area', 'total ms'), rows(p.totalAreas)),
  ];
}
