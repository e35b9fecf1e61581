/**
 * The gateway against the floor (issue 12): the same `tools/call echo` to one SDK upstream (stateless, JSON
 * answers; bench/upstream-server.ts) through
 *   - floor:  bench/floor-proxy.ts, node:http + undici Pool, no auth, no parsing, no logging;
 *   - none:   `warden serve`, auth none (defaults otherwise: audit chain in SQLite, access log at info);
 *   - apiKey: `warden serve`, an API key with a scope opening `echo`, durable audit (`audit: { store: true }`);
 *   - jwt:    `warden serve`, the embedded authorization server, a client_credentials access token of a
 *             `warden clients add` service client for the upstream, the same scope and durable audit;
 * and directly (extra row). Interleaved in one run: warm-up, then rounds in rotating order, medians. The
 * figure is the CPU ms per call of the front process (utime+stime from /proc/<pid>/stat over the calls it
 * completed) and its ratio to the floor's in the same round (median of the per-round ratios).
 *
 *   npm run bench [-- --json]                        # builds dist/, then runs with the defaults
 *   node --import tsx bench/gateway-vs-floor.ts [--rounds 3] [--seconds 3] [--warmup 2] [--concurrency 32] [--json] [--cpu-prof]
 *
 * --json prints only `{ floor: {cpuMsPerCall, ...}, gateway: { none|apiKey|jwt: {cpuMsPerCall, ratio, ...} }, ... }`
 * on stdout (progress on stderr). --cpu-prof runs the floor and the gateways under V8's profiler (slower,
 * ratios not comparable) and prints their hottest functions; the .cpuprofile files are kept.
 */
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FOREIGN_WARN, GATEWAY_ENTRY, cpuProfilesIn, echoCallPlan, fmt, formatProfile, freePorts, loadPool, median, parseOptions, profileClockUs, requireBuiltGateway,
  runRounds, scanLog, serveWarden, startNode, stopAllChildren, summarize, summarizeCpuProfile, table, waitForLine, waitForWarden, writeWardenConfig,
  type Measured, type Measurement, type Scenario, type Summary,
} from './lib/index.js';
import { basicAuth, tokenRequest, wardenJson } from './lib/oauth.js';

const options = parseOptions({ rounds: 3, seconds: 3, warmupSeconds: 3, concurrency: 32, json: false, cpuProf: false });
const progress = (line: string) => process.stderr.write(`bench: ${line}\n`);
const ECHO_TEXT = 'hello from the benchmark';
const GATEWAYS = ['none', 'apiKey', 'jwt'] as const;
type Gateway = (typeof GATEWAYS)[number];
/** What each front adds, for the table's legend. */
const LEGEND: Record<string, string> = {
  direct: 'the upstream itself, no hop (its CPU is in the upstream column)',
  floor: 'node:http + undici Pool proxy, no auth, no parsing, no logging (bench/floor-proxy.ts)',
  none: 'warden serve, auth: none, defaults (audit chain in SQLite, access log at info)',
  apiKey: 'warden serve, API key + per-tool scope + durable audit (audit.store)',
  jwt: 'warden serve, OAuth client_credentials JWT + per-tool scope + durable audit',
};

requireBuiltGateway('bench');
const work = mkdtempSync(join(tmpdir(), 'warden-bench-floor-'));
const profileRoot = join(work, 'profiles');
// However the run ends: drop configs, stores and logs; keep CPU profiles, whose paths get printed.
process.on('exit', () => {
  if (!options.cpuProf) rmSync(work, { recursive: true, force: true });
});
let exitCode = 0;

/** The profiler flags' directory for a front process, or undefined when not profiling. */
const profileDirOf = (label: string) => {
  if (!options.cpuProf) return undefined;
  const dir = join(profileRoot, label);
  mkdirSync(dir, { recursive: true });
  return dir;
};

try {
  const upstream = startNode('upstream', ['--import', 'tsx', 'bench/upstream-server.ts'], { stdout: 'lines' });
  const upstreamUrl = `http://127.0.0.1:${Number((await waitForLine(upstream, /^PORT (\d+)$/))[1])}/mcp`;
  const floorProfile = profileDirOf('floor');
  const floor = startNode('floor', [...(floorProfile ? ['--cpu-prof', `--cpu-prof-dir=${floorProfile}`] : []), '--import', 'tsx', 'bench/floor-proxy.ts', '--upstream', upstreamUrl], { stdout: 'lines' });
  const floorUrl = `http://127.0.0.1:${Number((await waitForLine(floor, /^PORT (\d+)$/))[1])}/mcp`;

  // One config, store and log per gateway; the scope that opens the echo tool for the authenticated ones.
  const [none, apiKey, jwt] = await freePorts(3);
  const ports: Record<Gateway, number> = { none: none!, apiKey: apiKey!, jwt: jwt! };
  const scope = ['authorization:', '  scopes:', '    "bench:echo": { tools: [echo] }'];
  const store = (name: Gateway) => `store: { sqlite: ${join(work, `${name}.db`)} }`;
  const configs: Record<Gateway, string> = {
    none: writeWardenConfig(join(work, 'none.yaml'), ports.none, upstreamUrl, ['auth: none', store('none')]),
    apiKey: writeWardenConfig(join(work, 'apiKey.yaml'), ports.apiKey, upstreamUrl, ['auth: { apiKeys: {} }', store('apiKey'), 'audit: { store: true }', ...scope]),
    // A token lifetime longer than any run, so that the one token serves every round.
    jwt: writeWardenConfig(join(work, 'jwt.yaml'), ports.jwt, upstreamUrl, ['auth: { oauth: { accessTokenTtl: 1h } }', store('jwt'), 'audit: { store: true }', ...scope]),
  };
  // The operator's way: the CLI creates the API key and the service client before the gateways start.
  const { key } = await wardenJson<{ key: string }>(GATEWAY_ENTRY, ['keys', 'create', '--config', configs.apiKey, '--subject', 'bench', '--scope', 'bench:echo']);
  const service = await wardenJson<{ client_id: string; client_secret: string }>(GATEWAY_ENTRY, ['clients', 'add', '--name', 'bench', '--scope', 'bench:echo', '--config', configs.jwt]);

  const logs = Object.fromEntries(GATEWAYS.map((g) => [g, join(work, `${g}.log`)])) as Record<Gateway, string>;
  const gateways = Object.fromEntries(GATEWAYS.map((g) => [g, serveWarden(g, configs[g], logs[g], profileDirOf(g))])) as Record<Gateway, ReturnType<typeof serveWarden>>;
  for (const g of GATEWAYS) await waitForWarden(gateways[g], `http://127.0.0.1:${ports[g]}`, logs[g]);

  // An access token for the upstream's resource URL, as a service would get it.
  const issuer = `http://127.0.0.1:${ports.jwt}`;
  const tokenPool = loadPool(issuer, 1);
  const token = await tokenRequest(tokenPool, { grant_type: 'client_credentials', scope: 'bench:echo', resource: `${issuer}/mcp/bench` },
    { authorization: basicAuth(service.client_id, service.client_secret) });
  await tokenPool.destroy();
  if ('error' in token) throw new Error(`client_credentials token: ${token.error}`);

  const processes: Measured[] = [
    { label: 'upstream', pid: upstream.pid },
    { label: 'floor', pid: floor.pid },
    ...GATEWAYS.map((g) => ({ label: g, pid: gateways[g].pid })),
  ];
  const gatewayUrl = (g: Gateway) => `http://127.0.0.1:${ports[g]}/mcp/bench`;
  const scenarios: Scenario[] = [
    { name: 'direct', url: upstreamUrl, path: ['upstream'] },
    { name: 'floor', url: floorUrl, path: ['floor', 'upstream'] },
    { name: 'none', url: gatewayUrl('none'), path: ['none', 'upstream'] },
    { name: 'apiKey', url: gatewayUrl('apiKey'), path: ['apiKey', 'upstream'], headers: { authorization: `Bearer ${key}` } },
    { name: 'jwt', url: gatewayUrl('jwt'), path: ['jwt', 'upstream'], headers: { authorization: `Bearer ${token.ok.access_token}` } },
  ];
  progress(`upstream pid ${upstream.pid}, floor pid ${floor.pid}, ${GATEWAYS.map((g) => `${g} pid ${gateways[g].pid}`).join(', ')}`);
  progress(`${options.rounds} rounds x ${options.seconds}s per target, concurrency ${options.concurrency}, warmup ${options.warmupSeconds}s${options.cpuProf ? ', --cpu-prof' : ''}`);

  // The profiles are summarized over the rounds only: startup, the token request and warm-up (JIT) left out.
  let roundsFromUs = 0;
  const { rounds: results, warmup } = await runRounds({
    scenarios, processes, options, progress, onRoundsStart: () => (roundsFromUs = profileClockUs()), ...echoCallPlan(ECHO_TEXT),
  });
  const roundsToUs = profileClockUs();

  // Stop everything before reading logs (pino flushes on exit) and profiles (written on exit).
  await stopAllChildren();
  const summary = summarize(results, scenarios, processes);
  const by = (name: string) => summary.find((s) => s.scenario === name)!;
  /** The front process of a scenario: the first on its path (the upstream itself for direct). */
  const front = (name: string) => scenarios.find((s) => s.name === name)!.path[0]!;
  const frontCpu = (m: Measurement | Summary) => m.cpuMsPerRequest[front(m.scenario)]!;
  const roundRatios = (name: string) => Array.from({ length: options.rounds }, (_, i) => {
    const at = (n: string) => results.find((r) => r.round === i + 1 && r.scenario === n)!;
    return frontCpu(at(name)) / frontCpu(at('floor'));
  });
  const figures = (name: string) => {
    const s = by(name);
    return {
      cpuMsPerCall: frontCpu(s),
      callsPerSecond: s.rps,
      p50Ms: s.p50Ms,
      p99Ms: s.p99Ms,
      upstreamCpuMsPerCall: s.cpuMsPerRequest.upstream!,
      clientCpuMsPerCall: s.clientCpuMsPerRequest,
      foreignCpuShareMax: s.foreignCpuShare,
      errors: s.errors,
    };
  };
  const gatewayFigures = (g: Gateway) => ({ ...figures(g), ratio: median(roundRatios(g)), roundRatios: roundRatios(g) });

  // Log volume per call of each gateway: every call it served (verification, warm-up, rounds) plus the token request.
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main one (tsx adds a loader thread to the floor).
  const isMainThread = (file: string) => /\.\d+\.0\.\d+\.cpuprofile$/.test(file);
  const servedInRounds = (name: string) => results.filter((r) => r.scenario === name).reduce((n, r) => n + r.load.requests + r.load.errors, 0);
  const served = (name: string) => 1 + (warmup[name]?.requests ?? 0) + (warmup[name]?.errors ?? 0)
    + servedInRounds(name);
  const logStats = Object.fromEntries(await Promise.all(GATEWAYS.map(async (g) => {
    const log = await scanLog(logs[g]);
    return [g, { lines: log.lines, bytesPerCall: log.bytes / served(g), linesPerCall: log.lines / served(g), warnings: log.warnings, samples: log.samples }] as const;
  })));
  const profiles = options.cpuProf
    ? ['floor', ...GATEWAYS].flatMap((label) => cpuProfilesIn(join(profileRoot, label)).filter(isMainThread).map((file) => ({
      label, file, ...summarizeCpuProfile(file, { top: 20, fromUs: roundsFromUs, toUs: roundsToUs, calls: servedInRounds(label) }),
    })))
    : [];
  const environment = { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', platform: `${process.platform}/${process.arch}` };
  const report = {
    floor: figures('floor'),
    gateway: { none: gatewayFigures('none'), apiKey: gatewayFigures('apiKey'), jwt: gatewayFigures('jwt') },
    direct: figures('direct'),
    options,
    environment,
    logs: logStats,
    ...(options.cpuProf ? { profiles } : {}),
  };

  if (options.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const out: string[] = [
      `gateway vs floor: ${options.rounds} rounds x ${options.seconds}s per target (warm-up ${options.warmupSeconds}s), concurrency ${options.concurrency}, tools/call echo${options.cpuProf ? ', --cpu-prof (slower!)' : ''}`,
      `node ${environment.node}, ${environment.cpus} CPUs (${environment.cpuModel}); load generator, upstream and fronts share them`,
      ...scenarios.map((s) => `  ${s.name.padEnd(7)} ${LEGEND[s.name]}`),
      '',
      `medians of ${options.rounds} rounds; ratio: front CPU per call / the floor's in the same round, median over rounds ('other load': the worst round)`,
      table(
        ['target', 'calls/s', 'p50 ms', 'p99 ms', 'front CPU ms/call', 'ratio to floor', 'per round', 'upstream CPU ms/call', 'client CPU ms/call', 'other load', 'errors'],
        scenarios.map((s) => {
          const f = figures(s.name);
          const gateway = (GATEWAYS as readonly string[]).includes(s.name) ? gatewayFigures(s.name as Gateway) : undefined;
          return [
            s.name, fmt(f.callsPerSecond, 0), fmt(f.p50Ms, 2), fmt(f.p99Ms, 2),
            s.name === 'direct' ? '-' : fmt(f.cpuMsPerCall, 3),
            s.name === 'floor' ? '1.00' : gateway ? fmt(gateway.ratio, 2) : '-',
            gateway ? gateway.roundRatios.map((r) => fmt(r, 2)).join(', ') : '',
            fmt(f.upstreamCpuMsPerCall, 3), fmt(f.clientCpuMsPerCall, 3), `${fmt(f.foreignCpuShareMax * 100, 0)}%`, String(f.errors),
          ];
        }),
      ),
      '',
      `gateway logs per call: ${GATEWAYS.map((g) => `${g} ${fmt(logStats[g]!.linesPerCall, 2)} lines, ${fmt(logStats[g]!.bytesPerCall, 0)} bytes`).join('; ')}`,
    ];
    for (const g of GATEWAYS) for (const line of logStats[g]!.samples) out.push(`  ${g} log warning: ${line}`);
    const noisiest = Math.max(...results.map((r) => r.foreignCpuShare));
    out.push(noisiest > FOREIGN_WARN
      ? `warning: other processes used up to ${fmt(noisiest * 100, 0)}% of the machine during a run ('other load'); the numbers are noisy, rerun on a quiet machine`
      : `other processes used at most ${fmt(noisiest * 100, 0)}% of the machine during any run`);
    for (const r of results.filter((x) => x.load.errors > 0)) out.push(`errors in round ${r.round} ${r.scenario}: ${r.load.errors}, first: ${r.load.firstError}`);
    for (const p of profiles) out.push('', ...formatProfile(`${p.label} CPU profile ${p.file} (${servedInRounds(p.label)} calls in the rounds)`, p));
    process.stdout.write(`${out.join('\n')}\n`);
  }
  if (results.some((r) => r.load.errors > 0)) exitCode = 1;
} catch (err) {
  process.stderr.write(`bench: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  for (const g of GATEWAYS) {
    const log = await scanLog(join(work, `${g}.log`), 10).catch(() => undefined);
    for (const line of log?.samples ?? []) process.stderr.write(`  ${g}: ${line}\n`);
  }
  exitCode = 1;
} finally {
  await stopAllChildren();
}
process.exit(exitCode);
