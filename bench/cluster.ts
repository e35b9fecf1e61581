/**
 * Several instances (issue 18): the same `tools/call echo` to one SDK upstream (bench/upstream-server.ts), with
 * an API key, a per-tool scope and the durable audit chain, through
 *   sqlite-1: one `warden serve` on SQLite (the default);
 *   pg-1:     one `warden serve` on PostgreSQL + Redis;
 *   pg-3:     three `warden serve` on the same PostgreSQL + Redis, behind HAProxy (round robin);
 * interleaved in one run: warm-up, then rounds in rotating order, medians. Reported per target: calls/s, and
 * CPU ms per call of the gateways (summed over the instances), of PostgreSQL's backends of the gateways'
 * pools plus Redis, and of HAProxy; the ratio of pg-1 to sqlite-1 (gateway + its store's servers); and
 * audit records committed per second per instance, from the store after the rounds.
 *
 * A 2-core machine runs the load generator, the upstream, the databases and the gateways together: three
 * instances cannot serve more calls than one here. What pg-3 shows is the cost per call of a balancer and of
 * shared state, not how far N machines scale.
 *
 *   npm run bench:cluster [-- --rounds 3 --seconds 3 --warmup 2 --concurrency 32 --json]
 *
 * Needs the machine's PostgreSQL (WARDEN_BENCH_POSTGRES, default postgres://postgres@127.0.0.1:5432/test; a
 * schema of its own, dropped at the end), Redis (WARDEN_BENCH_REDIS, default redis://127.0.0.1:6379) and
 * HAProxy (/usr/sbin/haproxy).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import {
  GATEWAY_ENTRY, echoCallPlan, fmt, freePorts, loadPool, median, runLoad, parseOptions, requireBuiltGateway, runRounds, serveWarden, startNode, stopAllChildren,
  summarize, table, waitForLine, waitForWarden, writeWardenConfig, type Measured, type Scenario,
} from './lib/index.js';
import { startHaproxy } from './lib/haproxy.js';
import { wardenJson } from './lib/oauth.js';

const options = parseOptions({ rounds: 3, seconds: 3, warmupSeconds: 2, concurrency: 32, json: false, cpuProf: false });
const progress = (line: string) => process.stderr.write(`bench: ${line}\n`);
const PG_URL = process.env.WARDEN_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.WARDEN_BENCH_REDIS ?? 'redis://127.0.0.1:6379';
const TARGETS = ['sqlite-1', 'pg-1', 'pg-3'] as const;
const LEGEND: Record<string, string> = {
  'sqlite-1': 'one warden serve, SQLite store (the default)',
  'pg-1': 'one warden serve, PostgreSQL + Redis',
  'pg-3': 'three warden serve on PostgreSQL + Redis behind HAProxy',
};

requireBuiltGateway('bench:cluster');
const work = mkdtempSync(join(tmpdir(), 'warden-bench-cluster-'));
const schema = `warden_bench_${randomBytes(5).toString('hex')}`;
const redisPrefix = `warden-bench:${schema}:`;
const admin = new pg.Client({ connectionString: PG_URL });
let haproxy: Awaited<ReturnType<typeof startHaproxy>> | undefined;
let exitCode = 0;

try {
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const pgUrl = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;

  const upstream = startNode('upstream', ['--import', 'tsx', 'bench/upstream-server.ts'], { stdout: 'lines' });
  const upstreamUrl = `http://127.0.0.1:${Number((await waitForLine(upstream, /^PORT (\d+)$/))[1])}/mcp`;

  const names = ['sqlite-1', 'pg-1', 'gw-1', 'gw-2', 'gw-3'] as const;
  const ports = await freePorts(names.length + 1);
  const portOf = Object.fromEntries(names.map((n, i) => [n, ports[i]!])) as Record<(typeof names)[number], number>;
  const lbPort = ports[names.length]!;
  const common = ['auth: { apiKeys: {} }', 'authorization:', '  scopes:', '    "bench:echo": { tools: [echo] }'];
  const storeOf = (n: string) => (n === 'sqlite-1'
    ? `store: { sqlite: ${join(work, 'sqlite.db')} }`
    // A key prefix of the run's own, deleted at the end: no bucket or counter of a test run or an earlier bench.
    : `store: { postgres: ${JSON.stringify(pgUrl)}, redis: ${JSON.stringify(REDIS_URL)} }\nredis: { keyPrefix: "${redisPrefix}" }`);
  // Each instance names its audit chain: the bench counts records per chain afterwards.
  const configs = Object.fromEntries(names.map((n) => [n, writeWardenConfig(join(work, `${n}.yaml`), portOf[n], upstreamUrl, [
    ...common, storeOf(n), `audit: { store: true, instance: ${n} }`,
    // Behind HAProxy, clients name the balancer's address (the Host check).
    ...(n.startsWith('gw-') ? [`publicUrl: http://127.0.0.1:${lbPort}`] : []),
  ])])) as Record<(typeof names)[number], string>;

  // The operator's way: the CLI creates the keys (one for SQLite, one in PostgreSQL that all four share).
  const sqliteKey = (await wardenJson<{ key: string }>(GATEWAY_ENTRY, ['keys', 'create', '--config', configs['sqlite-1'], '--subject', 'bench', '--scope', 'bench:echo'])).key;
  const pgKey = (await wardenJson<{ key: string }>(GATEWAY_ENTRY, ['keys', 'create', '--config', configs['pg-1'], '--subject', 'bench', '--scope', 'bench:echo'])).key;

  const gateways = Object.fromEntries(names.map((n) => [n, serveWarden(n, configs[n], join(work, `${n}.log`))])) as Record<(typeof names)[number], ReturnType<typeof serveWarden>>;
  for (const n of names) await waitForWarden(gateways[n], `http://127.0.0.1:${portOf[n]}`, join(work, `${n}.log`));
  haproxy = await startHaproxy(join(work, 'haproxy.cfg'), lbPort, (['gw-1', 'gw-2', 'gw-3'] as const).map((n) => ({ name: n, port: portOf[n] })));
  await waitForHealthy(`http://127.0.0.1:${lbPort}/healthz`);

  const scenarios: Scenario[] = [
    { name: 'sqlite-1', url: `http://127.0.0.1:${portOf['sqlite-1']}/mcp/bench`, path: ['sqlite-1'], headers: { authorization: `Bearer ${sqliteKey}` } },
    { name: 'pg-1', url: `http://127.0.0.1:${portOf['pg-1']}/mcp/bench`, path: ['pg-1'], headers: { authorization: `Bearer ${pgKey}` } },
    { name: 'pg-3', url: `http://127.0.0.1:${lbPort}/mcp/bench`, path: ['haproxy', 'gw-1', 'gw-2', 'gw-3'], headers: { authorization: `Bearer ${pgKey}` } },
  ];
  // The shared servers: Redis, and the PostgreSQL backends of the gateways' pools, found once every pool has
  // grown under load (a first warm-up at full concurrency; named by application_name).
  const plan = echoCallPlan('hello from the cluster benchmark');
  for (const s of scenarios) {
    const pool = loadPool(new URL(s.url).origin, options.concurrency);
    await plan.verify(pool, s);
    await runLoad(pool, plan.request(s), options.concurrency, 1_000);
    await pool.destroy();
  }
  const backends = (await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = 'warden' AND datname = current_database()")).rows.map((r) => r.pid);
  const redisPid = Number(/process_id:(\d+)/.exec(execFileSync('redis-cli', ['-u', REDIS_URL, 'info', 'server'], { encoding: 'utf8' }))?.[1]);
  const processes: Measured[] = [
    { label: 'upstream', pid: upstream.pid },
    ...names.map((n) => ({ label: n, pid: gateways[n].pid })),
    { label: 'haproxy', pid: haproxy.pid! },
    ...(Number.isFinite(redisPid) ? [{ label: 'redis', pid: redisPid }] : []),
    ...backends.map((pid) => ({ label: `postgres:${pid}`, pid })),
  ];
  progress(`${backends.length} PostgreSQL backends, redis pid ${redisPid}; ${options.rounds} rounds x ${options.seconds}s, concurrency ${options.concurrency}`);

  // Counted from the end of runRounds' own warm-up.
  let auditBefore: Promise<Map<string, number>> = Promise.resolve(new Map());
  const started = performance.now();
  const { rounds } = await runRounds({ scenarios, processes, options, progress, ...plan, onRoundsStart: () => { auditBefore = auditCounts(); } });
  const elapsed = (performance.now() - started) / 1000;
  const auditAfter = await auditCounts();
  const before = await auditBefore;
  await stopAllChildren();

  const summary = summarize(rounds, scenarios, processes);
  const sumOf = (cpu: Record<string, number>, labels: readonly string[]) => labels.reduce((n, l) => n + (Number.isFinite(cpu[l]) ? cpu[l]! : 0), 0);
  const sharedLabels = processes.filter((p) => p.label === 'redis' || p.label.startsWith('postgres:')).map((p) => p.label);
  const gatewayLabels: Record<string, string[]> = { 'sqlite-1': ['sqlite-1'], 'pg-1': ['pg-1'], 'pg-3': ['gw-1', 'gw-2', 'gw-3'] };
  const figures = Object.fromEntries(TARGETS.map((t) => {
    const s = summary.find((x) => x.scenario === t)!;
    const gateway = sumOf(s.cpuMsPerRequest, gatewayLabels[t]!);
    const shared = t === 'sqlite-1' ? 0 : sumOf(s.cpuMsPerRequest, sharedLabels);
    return [t, {
      callsPerSecond: s.rps, p50Ms: s.p50Ms, p99Ms: s.p99Ms, errors: s.errors,
      gatewayCpuMsPerCall: gateway, storeServersCpuMsPerCall: shared,
      balancerCpuMsPerCall: t === 'pg-3' ? s.cpuMsPerRequest.haproxy! : 0,
      totalCpuMsPerCall: gateway + shared + (t === 'pg-3' ? s.cpuMsPerRequest.haproxy! : 0),
    }];
  })) as Record<(typeof TARGETS)[number], { callsPerSecond: number; p50Ms: number; p99Ms: number; errors: number; gatewayCpuMsPerCall: number; storeServersCpuMsPerCall: number; balancerCpuMsPerCall: number; totalCpuMsPerCall: number }>;
  const perRound = (t: string) => rounds.filter((r) => r.scenario === t);
  const pgToSqlite = median(perRound('pg-1').map((r, i) => (sumOf(r.cpuMsPerRequest, ['pg-1', ...sharedLabels])) / sumOf(perRound('sqlite-1')[i]!.cpuMsPerRequest, ['sqlite-1'])));
  const threeToOne = figures['pg-3'].callsPerSecond / figures['pg-1'].callsPerSecond;
  // Records per instance over the whole measured run (warm-up excluded), per second of that instance's own runs.
  const runSeconds = (t: string) => perRound(t).reduce((n, r) => n + r.load.elapsedMs / 1000, 0);
  const auditPerSecond = Object.fromEntries(names.filter((n) => n !== 'sqlite-1').map((n) => {
    const target = n === 'pg-1' ? 'pg-1' : 'pg-3';
    return [n, ((auditAfter.get(n) ?? 0) - (before.get(n) ?? 0)) / runSeconds(target)];
  }));
  const environment = { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown' };
  const report = { targets: figures, pgToSqliteCpuRatio: pgToSqlite, threeToOneCallsRatio: threeToOne, auditRecordsPerSecond: auditPerSecond, elapsedSeconds: elapsed, options, environment };
  if (options.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    process.stdout.write([
      `several instances: ${options.rounds} rounds x ${options.seconds}s per target (warm-up ${options.warmupSeconds}s), concurrency ${options.concurrency}, tools/call echo with an API key and the audit chain`,
      `node ${environment.node}, ${environment.cpus} CPUs (${environment.cpuModel}); load generator, upstream, PostgreSQL, Redis, HAProxy and the gateways share them`,
      ...TARGETS.map((t) => `  ${t.padEnd(8)} ${LEGEND[t]}`),
      '',
      table(['target', 'calls/s', 'p50 ms', 'p99 ms', 'gateway CPU ms/call', 'PostgreSQL+Redis CPU ms/call', 'HAProxy CPU ms/call', 'total CPU ms/call', 'errors'],
        TARGETS.map((t) => {
          const f = figures[t];
          return [t, fmt(f.callsPerSecond, 0), fmt(f.p50Ms, 2), fmt(f.p99Ms, 2), fmt(f.gatewayCpuMsPerCall, 3), fmt(f.storeServersCpuMsPerCall, 3), fmt(f.balancerCpuMsPerCall, 3), fmt(f.totalCpuMsPerCall, 3), String(f.errors)];
        })),
      '',
      `CPU per call, PostgreSQL + Redis against SQLite (gateway plus its store's servers; median of per-round ratios): ${fmt(pgToSqlite, 2)}`,
      `calls/s, three instances against one (same machine): ${fmt(threeToOne, 2)}`,
      `audit records committed per second: ${Object.entries(auditPerSecond).map(([n, v]) => `${n} ${fmt(v, 0)}`).join(', ')}`,
      '',
    ].join('\n'));
  }
  if (TARGETS.some((t) => figures[t].errors > 0)) exitCode = 1;
} catch (err) {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  exitCode = 1;
} finally {
  await stopAllChildren().catch(() => {});
  haproxy?.kill('SIGTERM');
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
  try {
    execFileSync('redis-cli', ['-u', REDIS_URL, 'EVAL', "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end", '0', `${redisPrefix}*`], { stdio: 'ignore' });
  } catch {
    // the bench's keys expire on their own
  }
  await admin.end().catch(() => {});
  rmSync(work, { recursive: true, force: true });
}
process.exit(exitCode);

/** Audit rows per instance in the bench's schema. */
async function auditCounts(): Promise<Map<string, number>> {
  const rows = await admin.query<{ instance: string; n: string }>(`SELECT instance, count(*) AS n FROM ${schema}.audit_records GROUP BY instance`);
  return new Map(rows.rows.map((r) => [r.instance, Number(r.n)]));
}

async function waitForHealthy(url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within 10 s`);
}
