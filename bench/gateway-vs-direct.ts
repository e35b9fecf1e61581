/**
 * Gateway vs direct: the same SDK MCP server (stateless Streamable HTTP, JSON answers) called directly,
 * through `warden serve` with auth none, and through a second `warden serve` that checks an API key on every
 * request (SQLite store, scope authorization, identity JWT for the upstream), all with default logging and
 * audit and the per-IP rate limit off, interleaved over several rounds. Prints throughput, latency, CPU per request of each server process, and the throughput ratio.
 *
 *   npm run bench                                    # builds dist/, then runs with the defaults
 *   node --import tsx bench/gateway-vs-direct.ts --rounds 2 --seconds 2 [--concurrency 32] [--json] [--cpu-prof]
 *
 * Processes: this one (load generator, undici Pool), the upstream (bench/upstream-server.ts) and the gateway
 * (dist/cli/main.js). All on one machine, so they share its cores: see the client CPU column.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FOREIGN_WARN,
  REPO_ROOT,
  cpuProfilesIn,
  echoCallPlan,
  fmt,
  freePort,
  measurementHeader,
  measurementRow,
  median,
  parseOptions,
  runRounds,
  scanLog,
  startNode,
  stopAllChildren,
  summarize,
  summarizeCpuProfile,
  table,
  waitForHttp,
  waitForLine,
  type Measured,
  type Scenario,
} from './lib/index.js';

const options = parseOptions({ rounds: 3, seconds: 3, warmupSeconds: 2, concurrency: 32, json: false, cpuProf: false });
const progress = (line: string) => process.stderr.write(`bench: ${line}\n`);
const ECHO_TEXT = 'hello from the benchmark';

const gatewayEntry = join(REPO_ROOT, 'dist/cli/main.js');
if (!existsSync(gatewayEntry)) {
  process.stderr.write('bench: dist/cli/main.js is missing; run `npm run build` first (or use `npm run bench`)\n');
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), 'warden-bench-'));
const gatewayLog = join(work, 'gateway.log');
const profileDir = join(work, 'profiles');
let exitCode = 0;
// However the run ends (error, Ctrl-C): drop the config and the log; keep CPU profiles, whose paths get printed.
process.on('exit', () => {
  if (options.cpuProf) rmSync(gatewayLog, { force: true });
  else rmSync(work, { recursive: true, force: true });
});

try {
  // The upstream: its own process, prints its port.
  const upstream = startNode('upstream', ['--import', 'tsx', 'bench/upstream-server.ts'], { stdout: 'lines' });
  const upstreamPort = Number((await waitForLine(upstream, /^PORT (\d+)$/))[1]);
  const upstreamUrl = `http://127.0.0.1:${upstreamPort}/mcp`;

  // The gateway: `warden serve` from the built CLI, one HTTP upstream, everything else at its defaults
  // (log level info with access and audit lines, audit to the log) except the per-IP limiter.
  const gatewayPort = await freePort();
  const keysPort = await freePort();
  const quietPort = await freePort();
  const writeConfig = (name: string, port: number, auth: string[]) => {
    const file = join(work, name);
    writeFileSync(file, [
      'scenario: local',
      'listen:',
      '  host: 127.0.0.1',
      `  port: ${port}`,
      ...auth,
      'rateLimit:',
      '  perIp: false',
      'log:',
      '  level: info',
      'upstreams:',
      '  bench:',
      `    url: ${upstreamUrl}`,
      '',
    ].join('\n'));
    return file;
  };
  const configFile = writeConfig('warden.yaml', gatewayPort, ['auth: none']);
  // The same without any audit record: what the tamper-evident chain and the audit log line cost.
  const quietConfig = writeConfig('warden-no-audit.yaml', quietPort, ['auth: none', 'audit: { store: false, log: false }']);
  const keysConfig = writeConfig('warden-keys.yaml', keysPort, [
    'auth: { apiKeys: {} }',
    `store: { sqlite: ${join(work, 'warden.db')} }`,
    'authorization:',
    '  scopes:',
    '    "bench:echo": { tools: [echo] }',
  ]);
  const created = startNode('keys', [gatewayEntry, 'keys', 'create', '--config', keysConfig, '--subject', 'bench', '--scope', 'bench:echo', '--json'], { stdout: 'lines' });
  const apiKey = (await waitForLine(created, /"key": "(wdn_[0-9A-Za-z]+)"/))[1]!;
  const serve = (label: string, config: string, log: string) => startNode(label, [
    ...(options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
    gatewayEntry,
    'serve',
    '--config',
    config,
  ], { stderrFile: log });
  const gateway = serve('gateway', configFile, gatewayLog);
  const keysGateway = serve('gateway+key', keysConfig, join(work, 'gateway-keys.log'));
  const quietGateway = serve('no-audit', quietConfig, join(work, 'gateway-no-audit.log'));
  await waitForHttp(`http://127.0.0.1:${gatewayPort}/healthz`, gateway);
  await waitForHttp(`http://127.0.0.1:${quietPort}/healthz`, quietGateway);
  await waitForHttp(`http://127.0.0.1:${keysPort}/healthz`, keysGateway);

  const processes: Measured[] = [
    { label: 'upstream', pid: upstream.pid },
    { label: 'gateway', pid: gateway.pid },
    { label: 'gateway+key', pid: keysGateway.pid },
    { label: 'no-audit', pid: quietGateway.pid },
  ];
  // Add targets here (e.g. with a file audit sink): a name, a URL, the processes crossed, headers.
  const scenarios: Scenario[] = [
    { name: 'direct', url: upstreamUrl, path: ['upstream'] },
    { name: 'gateway', url: `http://127.0.0.1:${gatewayPort}/mcp/bench`, path: ['gateway', 'upstream'] },
    { name: 'no-audit', url: `http://127.0.0.1:${quietPort}/mcp/bench`, path: ['no-audit', 'upstream'] },
    { name: 'gateway+key', url: `http://127.0.0.1:${keysPort}/mcp/bench`, path: ['gateway+key', 'upstream'], headers: { authorization: `Bearer ${apiKey}` } },
  ];

  progress(`upstream pid ${upstream.pid} ${upstreamUrl}; gateway pid ${gateway.pid} port ${gatewayPort}; log ${gatewayLog}`);
  progress(`${options.rounds} rounds x ${options.seconds}s per target, concurrency ${options.concurrency}, warmup ${options.warmupSeconds}s`);

  const { rounds: results, warmup } = await runRounds({
    scenarios, processes, options, progress,
    ...echoCallPlan(ECHO_TEXT),
  });

  const summary = summarize(results, scenarios, processes);
  const byName = (name: string) => summary.find((s) => s.scenario === name)!;
  const ratiosOf = (name: string) => Array.from({ length: options.rounds }, (_, i) => {
    const of = (n: string) => results.find((r) => r.round === i + 1 && r.scenario === n)!.load.rps;
    return of(name) / of('direct');
  });
  const roundRatios = ratiosOf('gateway');
  const keyRatios = ratiosOf('gateway+key');
  const ratio = median(roundRatios);
  const keyRatio = median(keyRatios);
  const addedMeanMs = byName('gateway').meanMs - byName('direct').meanMs;
  const keyAddedMeanMs = byName('gateway+key').meanMs - byName('direct').meanMs;
  const gatewayCpu = byName('gateway').cpuMsPerRequest['gateway']!;
  const keyGatewayCpu = byName('gateway+key').cpuMsPerRequest['gateway+key']!;
  const quietRatios = ratiosOf('no-audit');
  const quietCpu = byName('no-audit').cpuMsPerRequest['no-audit']!;
  const auditOnOff = median(Array.from({ length: options.rounds }, (_, i) => {
    const of = (n: string) => results.find((r) => r.round === i + 1 && r.scenario === n)!.load.rps;
    return of('gateway') / of('no-audit');
  }));

  // Stop the servers before reading the log (pino flushes on exit) and the profile (written on exit).
  await stopAllChildren();
  const log = await scanLog(gatewayLog);
  // Every request the gateway served (verification + warmup + rounds), to put the log volume per request.
  const servedByGateway = 1 + [warmup['gateway']!, ...results.filter((r) => r.scenario === 'gateway').map((r) => r.load)].reduce((n, l) => n + l.requests + l.errors, 0);
  const profiles = options.cpuProf ? cpuProfilesIn(profileDir).map((file) => ({ file, ...summarizeCpuProfile(file) })) : [];

  const environment = {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    platform: `${process.platform}/${process.arch}`,
  };

  if (options.json) {
    process.stdout.write(
      `${JSON.stringify(
        {
          options,
          environment,
          scenarios,
          rounds: results,
          median: summary,
          gatewayDirectThroughputRatio: ratio,
          roundRatios,
          gatewayAddedMeanMs: addedMeanMs,
          apiKeyGatewayDirectThroughputRatio: keyRatio,
          apiKeyRoundRatios: keyRatios,
          apiKeyGatewayAddedMeanMs: keyAddedMeanMs,
          apiKeyGatewayCpuMsPerRequest: keyGatewayCpu,
          noAuditGatewayDirectThroughputRatio: median(quietRatios),
          noAuditGatewayCpuMsPerRequest: quietCpu,
          auditOnOffThroughputRatio: auditOnOff,
          gatewayLog: { ...log, requests: servedByGateway },
          profiles,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    const out: string[] = [];
    out.push(`gateway vs direct: ${options.rounds} rounds x ${options.seconds}s per target, concurrency ${options.concurrency}, tools/call echo`);
    out.push(`node ${environment.node}, ${environment.cpus} CPUs (${environment.cpuModel}); load generator, upstream and gateway share them`);
    out.push(`gateway config: auth none, audit chain in the SQLite store plus audit lines in the log (info, to a file), rateLimit.perIp false${options.cpuProf ? ', --cpu-prof (slower!)' : ''}`);
    out.push('no-audit: the same with audit: { store: false, log: false } (no audit record at all)');
    out.push('gateway+key: the same as gateway plus auth.apiKeys (SQLite lookup per request), a scope for echo, identity JWT to the upstream');
    for (let round = 1; round <= options.rounds; round++) {
      const rows = results
        .filter((r) => r.round === round)
        .map((r) => measurementRow(r.scenario, { ...r.load, ...r }, processes, scenarios.find((s) => s.name === r.scenario)!.path));
      out.push('', `round ${round}`, table(measurementHeader(processes), rows));
    }
    out.push(
      '',
      `median of ${options.rounds} rounds ('other load': share of the machine other programs used; here the worst round)`,
      table(
        measurementHeader(processes),
        summary.map((s) => measurementRow(s.scenario, s, processes, scenarios.find((x) => x.name === s.scenario)!.path)),
      ),
      '',
      `ratio gateway/direct throughput: ${fmt(ratio, 2)}   (per round: ${roundRatios.map((r) => fmt(r, 2)).join(', ')})`,
      `gateway adds ${fmt(addedMeanMs, 2)} ms mean latency and ${fmt(gatewayCpu, 3)} ms of its own CPU per request`,
      `audit on/off throughput: ${fmt(auditOnOff, 2)}; the audit chain (a call and an outcome record per request) costs ${fmt(gatewayCpu - quietCpu, 3)} ms of gateway CPU per request (no-audit: ${fmt(quietCpu, 3)} ms)`,
      `ratio gateway+key/direct throughput: ${fmt(keyRatio, 2)}   (per round: ${keyRatios.map((r) => fmt(r, 2)).join(', ')})`,
      `gateway+key adds ${fmt(keyAddedMeanMs, 2)} ms mean latency and ${fmt(keyGatewayCpu, 3)} ms of its own CPU per request (${fmt(keyGatewayCpu - gatewayCpu, 3)} ms more than auth none)`,
      `gateway log: ${log.lines} lines, ${fmt(log.bytes / 1024 / 1024, 1)} MiB for ${servedByGateway} requests: ${fmt(log.lines / servedByGateway, 2)} lines, ${fmt(log.bytes / servedByGateway, 0)} bytes per request; ${log.warnings} at warn or above`,
    );
    for (const s of log.samples) out.push(`  ${s}`);
    const noisiest = Math.max(...results.map((r) => r.foreignCpuShare));
    if (noisiest > FOREIGN_WARN) {
      out.push(`warning: other processes used up to ${fmt(noisiest * 100, 0)}% of the machine during a run ('other load'); the numbers are noisy, rerun on a quiet machine`);
    }
    for (const r of results.filter((x) => x.load.errors > 0)) out.push(`errors in round ${r.round} ${r.scenario}: ${r.load.errors}, first: ${r.load.firstError}`);
    for (const p of profiles) {
      out.push('', `gateway CPU profile ${p.file}: main thread busy ${fmt(p.busyMs, 0)} ms (idle ${fmt(p.idleMs, 0)} ms, startup included); self time by area:`);
      out.push(table(['area', 'self ms', 'share'], p.areas.map((h) => [h.name, fmt(h.selfMs, 0), `${fmt(h.share * 100, 1)}%`])));
      out.push('', 'top functions by self time (share of busy time):');
      out.push(table(['function', 'self ms', 'share'], p.functions.map((h) => [h.name, fmt(h.selfMs, 0), `${fmt(h.share * 100, 1)}%`])));
    }
    process.stdout.write(`${out.join('\n')}\n`);
  }
  if (results.some((r) => r.load.errors > 0)) exitCode = 1;
} catch (err) {
  process.stderr.write(`bench: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  if (existsSync(gatewayLog)) {
    const log = await scanLog(gatewayLog, 10).catch(() => undefined);
    for (const line of log?.samples ?? []) process.stderr.write(`  gateway: ${line}\n`);
  }
  exitCode = 1;
} finally {
  await stopAllChildren();
}
process.exit(exitCode);
