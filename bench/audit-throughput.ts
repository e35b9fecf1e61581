/**
 * Audit chain throughput: how many records per second the tamper-evident chain commits, one transaction
 * per record against group commit (AuditChainWriter's default), each with synchronous=NORMAL (a commit
 * survives a process crash) and FULL (it survives power loss too: the WAL is synced at every commit), with
 * 1, 32 and 256 appends in flight (closed loop: each producer appends its next record once the last one
 * committed, as a gateway request waits for its record). Reports records/s and the p50/p99 latency of one
 * append, and a recommendation computed from the numbers.
 *
 *   npm run bench:audit
 *   node --import tsx bench/audit-throughput.ts [--seconds 2] [--concurrency 1,32,256] [--dir /path/on/the/real/disk] [--json]
 *
 * In-process, on a fresh SQLite file per measurement. FULL numbers are those of the disk under --dir
 * (default: the OS temp dir; a tmpfs there makes fsync free and FULL look like NORMAL).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { SqliteStore } from '../src/store/sqlite.js';
import { AuditChainWriter } from '../src/audit/chain-writer.js';
import type { AuditRecord } from '../src/audit/record.js';
import { CountingAuditStore } from '../test/helpers/counting-audit-store.js';
import { readFlags } from './lib/options.js';
import { fmt, table } from './lib/report.js';
import { percentile } from './lib/stats.js';

type Sync = 'NORMAL' | 'FULL';
type Mode = 'per-record' | 'group';

interface Options {
  seconds: number;
  warmupSeconds: number;
  concurrency: number[];
  dir: string;
  json: boolean;
}

interface Result {
  mode: Mode;
  synchronous: Sync;
  concurrency: number;
  records: number;
  seconds: number;
  recordsPerSecond: number;
  /** Mean records per transaction. */
  batch: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
}

const HELP = `options (or env BENCH_SECONDS, BENCH_CONCURRENCY, BENCH_AUDIT_DIR, BENCH_JSON=1):
  --seconds S          measured seconds per combination (default 2; 12 combinations)
  --concurrency LIST   appends in flight, comma-separated (default 1,32,256)
  --dir PATH           where the temporary SQLite files go (default the OS temp dir)
  --json               machine-readable output`;

function parseArgs(argv = process.argv.slice(2), env = process.env): Options {
  const flags = readFlags(argv, ['seconds', 'concurrency', 'dir', 'json'], ['json'], HELP);
  const seconds = Number(flags.get('seconds') ?? env.BENCH_SECONDS ?? 2);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`--seconds must be a positive number\n${HELP}`);
  const concurrency = (flags.get('concurrency') ?? env.BENCH_CONCURRENCY ?? '1,32,256').split(',').map(Number);
  if (concurrency.some((c) => !Number.isInteger(c) || c < 1)) throw new Error(`--concurrency takes positive integers, e.g. 1,32,256\n${HELP}`);
  const json = flags.get('json') ?? env.BENCH_JSON;
  return {
    seconds,
    warmupSeconds: Math.min(0.5, seconds / 4),
    concurrency,
    dir: flags.get('dir') ?? env.BENCH_AUDIT_DIR ?? tmpdir(),
    json: json === 'true' || json === '1',
  };
}

/** A record the size and shape of a gateway's `call` record (about 400 bytes sealed). */
function auditRecord(i: number): AuditRecord {
  return {
    ts: new Date().toISOString(), instance: 'bench-host:4242', event: 'call', requestId: `req-${i.toString(36)}-0f3c9a`,
    subject: `user-${i % 97}@example.com`, tenant: 'acme', credential: { kind: 'api_key', id: `key${i % 13}` },
    upstream: 'notes', method: 'tools/call', target: `notes_${['get', 'search', 'update'][i % 3]}`, targetKind: 'tool',
    decision: i % 10 === 0 ? 'deny' : 'allow', reason: i % 10 === 0 ? 'missing scope notes:write' : 'scope notes:read',
    ip: '203.0.113.7', userAgent: 'bench/1.0',
  };
}

async function measure(options: Options, mode: Mode, synchronous: Sync, concurrency: number): Promise<Result> {
  const work = mkdtempSync(join(options.dir, 'warden-audit-bench-'));
  const store = new SqliteStore(join(work, 'warden.db'), { synchronous });
  const counted = new CountingAuditStore(store.audit);
  const writer = new AuditChainWriter(counted, { groupCommit: mode === 'group' });
  try {
    const start = performance.now() + options.warmupSeconds * 1_000;
    const end = start + options.seconds * 1_000;
    const latencies: number[] = [];
    let appended = 0;
    let failures = 0;
    let txAtStart = -1;
    let txAtEnd = -1;
    let next = 0;
    const producer = async () => {
      for (;;) {
        const began = performance.now();
        if (began >= end) return;
        try {
          await writer.append(auditRecord(next++));
          appended++;
        } catch {
          failures++;
        }
        const done = performance.now();
        if (txAtStart < 0 && done >= start) txAtStart = counted.transactions;
        if (done >= start && done < end) latencies.push(done - began);
        else if (done >= end && txAtEnd < 0) txAtEnd = counted.transactions;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, producer));
    await writer.close();
    const head = await store.audit.head('bench-host:4242');
    // Every append that resolved is in the chain, once: what resolved is what is stored.
    if (head.seq !== appended) throw new Error(`${appended} appends resolved but the chain holds ${head.seq}`);
    const records = latencies.length;
    latencies.sort((a, b) => a - b);
    const transactions = (txAtEnd < 0 ? counted.transactions : txAtEnd) - Math.max(0, txAtStart);
    return {
      mode, synchronous, concurrency, records, seconds: options.seconds,
      recordsPerSecond: records / options.seconds,
      batch: transactions > 0 ? records / transactions : Number.NaN,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      failures,
    };
  } finally {
    await writer.close();
    await store.close();
    rmSync(work, { recursive: true, force: true });
  }
}

/** One line from the numbers: which commit mode, and what FULL costs with it. */
function recommend(results: Result[], concurrency: number[]): string {
  const high = Math.max(...concurrency);
  const low = Math.min(...concurrency);
  const at = (mode: Mode, sync: Sync, c: number) => results.find((r) => r.mode === mode && r.synchronous === sync && r.concurrency === c)!;
  const gainNormal = at('group', 'NORMAL', high).recordsPerSecond / at('per-record', 'NORMAL', high).recordsPerSecond;
  const gainFull = at('group', 'FULL', high).recordsPerSecond / at('per-record', 'FULL', high).recordsPerSecond;
  const fullCost = 1 - at('group', 'FULL', high).recordsPerSecond / at('group', 'NORMAL', high).recordsPerSecond;
  // What waiting for setImmediate costs a lone request, where there is nothing to batch with.
  const idleCostMs = at('group', 'NORMAL', low).p50Ms - at('per-record', 'NORMAL', low).p50Ms;
  const idle = low < high ? `; ${idleCostMs >= 0 ? '+' : ''}${fmt(idleCostMs, 3)} ms p50 at ${low} in flight` : '';
  const group = gainNormal >= 1.2 || gainFull >= 1.2
    ? `group commit (x${fmt(gainNormal, 1)} records/s with NORMAL, x${fmt(gainFull, 1)} with FULL at ${high} in flight${idle})`
    : `either commit mode (group commit gains only x${fmt(Math.max(gainNormal, gainFull), 2)} at ${high} in flight here)`;
  const sync = fullCost <= 0.3
    ? `synchronous=FULL costs ${fmt(fullCost * 100, 0)}% with group commit here, cheap enough where power-loss durability matters`
    : `synchronous=FULL costs ${fmt(fullCost * 100, 0)}% with group commit here: keep NORMAL (safe against process crashes) unless the last records must survive power loss`;
  return `recommendation: ${group}; ${sync}.`;
}

const options = parseArgs();
const progress = (line: string) => process.stderr.write(`bench: ${line}\n`);
const sqliteVersion = (() => {
  const db = new Database(':memory:');
  try {
    return (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  } finally {
    db.close();
  }
})();

const plan: Array<[Sync, Mode]> = [['NORMAL', 'per-record'], ['NORMAL', 'group'], ['FULL', 'per-record'], ['FULL', 'group']];
progress(`${plan.length * options.concurrency.length} combinations x (${options.warmupSeconds}s warmup + ${options.seconds}s), files under ${options.dir}`);
const results: Result[] = [];
for (const [sync, mode] of plan) {
  for (const c of options.concurrency) {
    const r = await measure(options, mode, sync, c);
    results.push(r);
    progress(`${mode.padEnd(10)} ${sync.padEnd(6)} C=${String(c).padEnd(4)} ${fmt(r.recordsPerSecond, 0).padStart(8)} records/s  p50 ${fmt(r.p50Ms, 3)} ms  p99 ${fmt(r.p99Ms, 3)} ms  ${fmt(r.batch, 1)} records/commit${r.failures ? `  ${r.failures} FAILED` : ''}`);
  }
}

const recommendation = recommend(results, options.concurrency);
const environment = { node: process.version, sqlite: sqliteVersion, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', platform: `${process.platform}/${process.arch}`, dir: options.dir };
if (options.json) {
  process.stdout.write(`${JSON.stringify({ options, environment, results, recommendation }, null, 2)}\n`);
} else {
  const header = ['commit / synchronous', ...options.concurrency.flatMap((c) => [`C=${c} rec/s`, 'p50 ms', 'p99 ms'])];
  const rows = plan.map(([sync, mode]) => [
    `${mode} / ${sync}`,
    ...options.concurrency.flatMap((c) => {
      const r = results.find((x) => x.mode === mode && x.synchronous === sync && x.concurrency === c)!;
      return [fmt(r.recordsPerSecond, 0), fmt(r.p50Ms, 3), fmt(r.p99Ms, 3)];
    }),
  ]);
  process.stdout.write(`audit chain throughput: ${options.seconds}s per cell, node ${environment.node}, SQLite ${sqliteVersion}, ${environment.cpus} CPUs, files under ${options.dir}\n\n`);
  process.stdout.write(`${table(header, rows)}\n\n${recommendation}\n`);
}
if (results.some((r) => r.failures > 0)) process.exitCode = 1;
