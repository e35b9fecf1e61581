/**
 * OAuth costs, in one run against one `warden serve` with the embedded authorization server and API keys on:
 * 1. The token endpoint: client_credentials (a service client made with `warden clients add`,
 *    client_secret_basic, `resource`) and refresh_token rotation (chains that start from the real
 *    authorization-code flow: registration, PKCE, sign-in and consent pages; each refresh uses the token the
 *    previous one returned; one chain per worker), at concurrency 1 and 8. Tokens/s, p50/p99, gateway CPU
 *    per token and the SQLite rows each token leaves behind.
 * 2. The same `tools/call echo` directly, through `warden serve` with auth none, and through the OAuth gateway
 *    with an API key and with a JWT access token (ES256 signature + revocation-list lookup per request).
 *
 *   npm run bench:oauth                  # builds dist/, then runs with the defaults
 *   node --import tsx bench/oauth.ts [--quick] [--rounds 3] [--seconds 3] [--warmup 2] [--concurrency 32] [--json] [--cpu-prof]
 *
 * --quick: 1 round x 1 s, warmup 0.5 s (a smoke test; explicit flags still win). --concurrency is that of the
 * MCP calls; the token endpoint is measured at 1 and 8. All processes share this machine's cores, as in
 * bench/gateway-vs-floor.ts; the 'other load' column says how much other programs took.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import {
  FOREIGN_WARN, GATEWAY_ENTRY, cpuProfilesIn, echoCallPlan, fmt, formatProfile, freePorts, loadPool, machineBusyCpuMs, measurementHeader, measurementRow, median, parseOptions,
  processCpuMs, requireBuiltGateway, runRounds, scanLog, selfCpuMs, serveWarden, startNode, stopAllChildren, summarize, summarizeCpuProfile, table, waitForLine, waitForWarden,
  writeWardenConfig, type LoadResult, type Measured, type Scenario,
} from './lib/index.js';
import { authorizationCodeGrant, basicAuth, jwtClaims, registerPublicClient, runWorkers, tokenRequest, wardenJson } from './lib/oauth.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const options = parseOptions(
  { rounds: quick ? 1 : 3, seconds: quick ? 1 : 3, warmupSeconds: quick ? 0.5 : 2, concurrency: 32, json: false, cpuProf: false },
  argv.filter((a) => a !== '--quick'),
);
const TOKEN_CONCURRENCY = [1, 8];
const ECHO_TEXT = 'hello from the benchmark';
const SETTLE_MS = 300;
const progress = (line: string) => process.stderr.write(`bench: ${line}\n`);

const gatewayEntry = GATEWAY_ENTRY;
requireBuiltGateway('bench:oauth');
const work = mkdtempSync(join(tmpdir(), 'warden-bench-oauth-'));
const profileDir = join(work, 'profiles');
process.on('exit', () => {
  if (!options.cpuProf) rmSync(work, { recursive: true, force: true });
});

interface TokenRun { scenario: string; grant: string; concurrency: number; round: number; load: LoadResult; gatewayCpuMsPerToken: number; rowsPerToken: number; auditPerToken: number; foreignCpuShare: number }
let exitCode = 0;

try {
  const upstream = startNode('upstream', ['--import', 'tsx', 'bench/upstream-server.ts'], { stdout: 'lines' });
  const upstreamUrl = `http://127.0.0.1:${Number((await waitForLine(upstream, /^PORT (\d+)$/))[1])}/mcp`;
  const [nonePort, oauthPort] = (await freePorts(2)) as [number, number];
  const dbPath = join(work, 'warden.db');
  const writeConfig = (name: string, port: number, lines: string[]) => writeWardenConfig(join(work, name), port, upstreamUrl, lines);
  const noneConfig = writeConfig('warden-none.yaml', nonePort, ['auth: none', `store: { sqlite: ${join(work, 'none.db')} }`]);
  // The sign-in limiter is raised only so that the 8 sign-ins of the setup never wait; everything else is at its defaults.
  const oauthConfig = writeConfig('warden-oauth.yaml', oauthPort, [
    'auth: { apiKeys: {}, oauth: { login: { perIp: { requestsPerSecond: 100, burst: 100 } } } }',
    `store: { sqlite: ${dbPath} }`,
    'authorization:',
    '  scopes: { "bench:echo": { tools: [echo] } }',
    '  roles: { bench: ["bench:echo"] }',
  ]);
  // The operator's way: the CLI creates the API key, the user and the service client (stored as a SHA-256 digest).
  const { key } = await wardenJson<{ key: string }>(gatewayEntry, ['keys', 'create', '--config', oauthConfig, '--subject', 'bench', '--scope', 'bench:echo']);
  const { password } = await wardenJson<{ password: string }>(gatewayEntry, ['users', 'add', 'bench', '--role', 'bench', '--config', oauthConfig]);
  const service = await wardenJson<{ client_id: string; client_secret: string }>(gatewayEntry, ['clients', 'add', '--name', 'bench', '--scope', 'bench:echo', '--config', oauthConfig]);

  const [noneLog, oauthLog] = [join(work, 'gateway-none.log'), join(work, 'gateway-oauth.log')];
  const none = serveWarden('gateway', noneConfig, noneLog);
  const oauth = serveWarden('oauth', oauthConfig, oauthLog, options.cpuProf ? profileDir : undefined);
  const issuer = `http://127.0.0.1:${oauthPort}`;
  const resource = `${issuer}/mcp/bench`;
  await waitForWarden(none, `http://127.0.0.1:${nonePort}`, noneLog);
  await waitForWarden(oauth, issuer, oauthLog);

  // One public client (as an MCP client registers itself) and one grant per refresh chain, each through the pages.
  const clientId = await registerPublicClient(issuer);
  const chains: string[] = [];
  for (let i = 0; i < Math.max(...TOKEN_CONCURRENCY); i++) {
    chains.push((await authorizationCodeGrant(issuer, { clientId, username: 'bench', password, resource, scope: 'bench:echo' })).refresh_token!);
  }
  progress(`${chains.length} grants through the authorization-code flow; service client ${service.client_id}`);

  const serviceAuth = { authorization: basicAuth(service.client_id, service.client_secret) };
  const pools = new Map(TOKEN_CONCURRENCY.map((c) => [c, loadPool(issuer, c)]));
  const ops: Record<string, (pool: ReturnType<typeof loadPool>, worker: number) => Promise<string | undefined>> = {
    client_credentials: async (pool) => {
      const r = await tokenRequest(pool, { grant_type: 'client_credentials', scope: 'bench:echo', resource }, serviceAuth);
      return 'error' in r ? r.error : undefined;
    },
    refresh_token: async (pool, worker) => {
      const r = await tokenRequest(pool, { grant_type: 'refresh_token', refresh_token: chains[worker]!, client_id: clientId, resource });
      if ('error' in r) return r.error;
      if (!r.ok.refresh_token || r.ok.refresh_token === chains[worker]) return 'the refresh token was not rotated';
      chains[worker] = r.ok.refresh_token;
      return undefined;
    },
  };
  // Both grants must yield RFC 9068 JWTs for the resource, with the scope, before any load.
  for (const grant of Object.keys(ops)) {
    const r = grant === 'client_credentials'
      ? await tokenRequest(pools.get(1)!, { grant_type: 'client_credentials', scope: 'bench:echo', resource }, serviceAuth)
      : await tokenRequest(pools.get(1)!, { grant_type: 'refresh_token', refresh_token: chains[0]!, client_id: clientId, resource });
    if ('error' in r) throw new Error(`${grant}: ${r.error}`);
    if (grant === 'refresh_token') chains[0] = r.ok.refresh_token!;
    const claims = jwtClaims(r.ok.access_token);
    if (claims.aud !== resource || !String(r.ok.scope).includes('bench:echo')) throw new Error(`${grant}: unexpected token ${JSON.stringify(claims)}`);
  }

  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  const rowCounts = () => db.prepare('SELECT (SELECT COUNT(*) FROM oauth_models) AS models, (SELECT COUNT(*) FROM audit_records) AS audit').get() as { models: number; audit: number };
  const tokenScenarios = Object.keys(ops).flatMap((grant) => TOKEN_CONCURRENCY.map((concurrency) => ({ name: `${grant} c${concurrency}`, grant, concurrency })));
  const runToken = (s: (typeof tokenScenarios)[number], ms: number) => runWorkers(s.concurrency, ms, (w) => ops[s.grant]!(pools.get(s.concurrency)!, w));
  for (const s of tokenScenarios) {
    progress(`warmup ${s.name} ${options.warmupSeconds}s`);
    await runToken(s, options.warmupSeconds * 1000);
    await sleep(SETTLE_MS);
  }
  const tokenRuns: TokenRun[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (const s of round % 2 === 1 ? tokenScenarios : [...tokenScenarios].reverse()) {
      const [machine0, cpu0, self0, rows0, wall0] = [machineBusyCpuMs(), processCpuMs(oauth.pid), selfCpuMs(), rowCounts(), performance.now()];
      const load = await runToken(s, options.seconds * 1000);
      await sleep(SETTLE_MS); // audit records are committed on a later turn
      const [machine1, cpu1, self1, rows1, wall1] = [machineBusyCpuMs(), processCpuMs(oauth.pid), selfCpuMs(), rowCounts(), performance.now()];
      const done = load.requests + load.errors;
      const run: TokenRun = {
        scenario: s.name, grant: s.grant, concurrency: s.concurrency, round, load,
        gatewayCpuMsPerToken: (cpu1 - cpu0) / load.requests,
        rowsPerToken: (rows1.models - rows0.models) / done,
        auditPerToken: (rows1.audit - rows0.audit) / done,
        foreignCpuShare: Math.max(0, (machine1 - machine0 - (cpu1 - cpu0) - (self1 - self0)) / ((wall1 - wall0) * cpus().length)),
      };
      tokenRuns.push(run);
      const noisy = run.foreignCpuShare > FOREIGN_WARN ? `, other processes used ${fmt(run.foreignCpuShare * 100, 0)}% of the machine (noisy)` : '';
      progress(`round ${round} ${s.name}: ${fmt(load.rps, 0)} tokens/s, p99 ${fmt(load.p99Ms, 2)} ms${load.errors ? `, ${load.errors} errors (${load.firstError})` : ''}${noisy}`);
    }
  }
  // Part 2: a fresh user access token (the rounds above may have taken longer than its lifetime).
  const fresh = await tokenRequest(pools.get(1)!, { grant_type: 'refresh_token', refresh_token: chains[0]!, client_id: clientId, resource });
  if ('error' in fresh) throw new Error(`refresh for the MCP part: ${fresh.error}`);
  const jwt = fresh.ok.access_token;
  await Promise.all([...pools.values()].map((p) => p.destroy()));
  const oauthModelRows = rowCounts().models;
  const [dbBytes, walBytes] = ['', '-wal'].map((x) => (existsSync(`${dbPath}${x}`) ? statSync(`${dbPath}${x}`).size : 0)) as [number, number];
  db.close();
  const tokenSummary = tokenScenarios.map((s) => {
    const mine = tokenRuns.filter((r) => r.scenario === s.name);
    const med = (f: (r: TokenRun) => number) => median(mine.map(f));
    return {
      scenario: s.name, grant: s.grant, concurrency: s.concurrency, tokensPerSecond: med((r) => r.load.rps), p50Ms: med((r) => r.load.p50Ms), p99Ms: med((r) => r.load.p99Ms),
      gatewayCpuMsPerToken: med((r) => r.gatewayCpuMsPerToken), rowsPerToken: med((r) => r.rowsPerToken), auditPerToken: med((r) => r.auditPerToken),
      errors: mine.reduce((n, r) => n + r.load.errors, 0), foreignCpuShare: Math.max(...mine.map((r) => r.foreignCpuShare)), perRound: mine.map((r) => r.load.rps),
    };
  });

  const processes: Measured[] = [{ label: 'upstream', pid: upstream.pid }, { label: 'gateway', pid: none.pid }, { label: 'oauth', pid: oauth.pid }];
  const scenarios: Scenario[] = [
    { name: 'direct', url: upstreamUrl, path: ['upstream'] },
    { name: 'auth none', url: `http://127.0.0.1:${nonePort}/mcp/bench`, path: ['gateway', 'upstream'] },
    { name: 'API key', url: resource, path: ['oauth', 'upstream'], headers: { authorization: `Bearer ${key}` } },
    { name: 'JWT', url: resource, path: ['oauth', 'upstream'], headers: { authorization: `Bearer ${jwt}` } },
  ];
  progress(`MCP calls: ${options.rounds} rounds x ${options.seconds}s per target, concurrency ${options.concurrency}`);
  const { rounds: mcpRuns } = await runRounds({
    scenarios, processes, options, progress,
    ...echoCallPlan(ECHO_TEXT),
  });
  const mcpSummary = summarize(mcpRuns, scenarios, processes);
  const by = (name: string) => mcpSummary.find((s) => s.scenario === name)!;
  const ratio = (a: string, b: string) => median(Array.from({ length: options.rounds }, (_, i) => {
    const rps = (n: string) => mcpRuns.find((r) => r.round === i + 1 && r.scenario === n)!.load.rps;
    return rps(a) / rps(b);
  }));
  const ratios = { jwtDirect: ratio('JWT', 'direct'), jwtApiKey: ratio('JWT', 'API key'), apiKeyDirect: ratio('API key', 'direct'), noneDirect: ratio('auth none', 'direct') };
  const cpuOf = (name: string) => by(name).cpuMsPerRequest[name === 'auth none' ? 'gateway' : 'oauth']!;
  const jwtCost = { cpuMsOverApiKey: cpuOf('JWT') - cpuOf('API key'), cpuMsOverAuthNone: cpuOf('JWT') - cpuOf('auth none'), meanMsOverApiKey: by('JWT').meanMs - by('API key').meanMs };

  // jose's share of it, in this process: ES256 verification of the same token with the gateway's published keys.
  const jwks = createLocalJWKSet((await (await fetch(`${issuer}/oauth/jwks`)).json()) as JSONWebKeySet);
  const verifyRuns = quick ? 500 : 3000;
  for (let i = 0; i < 200; i++) await jwtVerify(jwt, jwks, { issuer, audience: resource, typ: 'at+jwt', algorithms: ['ES256'] });
  const [t0, c0] = [performance.now(), selfCpuMs()];
  for (let i = 0; i < verifyRuns; i++) await jwtVerify(jwt, jwks, { issuer, audience: resource, typ: 'at+jwt', algorithms: ['ES256'] });
  const joseVerify = { wallMs: (performance.now() - t0) / verifyRuns, cpuMs: (selfCpuMs() - c0) / verifyRuns };

  await stopAllChildren();
  const profiles = options.cpuProf ? cpuProfilesIn(profileDir).map((file) => ({ file, ...summarizeCpuProfile(file) })) : [];
  const environment = { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', platform: `${process.platform}/${process.arch}` };
  const errors = tokenRuns.reduce((n, r) => n + r.load.errors, 0) + mcpRuns.reduce((n, r) => n + r.load.errors, 0);

  if (options.json) {
    process.stdout.write(`${JSON.stringify({
      options: { ...options, quick, tokenConcurrency: TOKEN_CONCURRENCY }, environment,
      tokens: { rounds: tokenRuns, median: tokenSummary }, store: { oauthModelRows, dbBytes, walBytes },
      mcp: { scenarios: scenarios.map(({ headers: _h, ...s }) => s), rounds: mcpRuns, median: mcpSummary, ratios, jwtCost },
      joseVerify, profiles,
    }, null, 2)}\n`);
  } else {
    const out: string[] = [];
    out.push(`OAuth bench: ${options.rounds} rounds x ${options.seconds}s per target, warmup ${options.warmupSeconds}s${quick ? ' (--quick)' : ''}${options.cpuProf ? ', --cpu-prof (slower!)' : ''}`);
    out.push(`node ${environment.node}, ${environment.cpus} CPUs (${environment.cpuModel}); load generator, upstream and gateways share them`);
    out.push('', 'token endpoint (medians; client_credentials: service client, client_secret_basic, resource; refresh_token: rotation, one chain per worker)');
    out.push(table(
      ['grant', 'conc', 'tokens/s', 'p50 ms', 'p99 ms', 'gateway CPU ms/token', 'oauth_models rows/token', 'audit rows/token', 'other load', 'errors', 'tokens/s per round'],
      tokenSummary.map((s) => [s.grant, String(s.concurrency), fmt(s.tokensPerSecond, 0), fmt(s.p50Ms, 2), fmt(s.p99Ms, 2), fmt(s.gatewayCpuMsPerToken, 3),
        fmt(s.rowsPerToken, 2), fmt(s.auditPerToken, 2), `${fmt(s.foreignCpuShare * 100, 0)}%`, String(s.errors), s.perRound.map((r) => fmt(r, 0)).join(', ')]),
    ));
    out.push(`store after the token runs: ${oauthModelRows} oauth_models rows (consumed refresh tokens stay until they expire), file ${fmt(dbBytes / 1024 / 1024, 1)} MiB + WAL ${fmt(walBytes / 1024 / 1024, 1)} MiB`);
    out.push('', `MCP tools/call echo, concurrency ${options.concurrency} (medians; 'oauth' is one gateway with API keys and OAuth on, serving both credentials)`);
    out.push(table(measurementHeader(processes), mcpSummary.map((s) => measurementRow(s.scenario, s, processes, scenarios.find((x) => x.name === s.scenario)!.path))));
    out.push(
      '',
      `throughput ratios: JWT/direct ${fmt(ratios.jwtDirect, 2)}, JWT/API key ${fmt(ratios.jwtApiKey, 2)}, API key/direct ${fmt(ratios.apiKeyDirect, 2)}, auth none/direct ${fmt(ratios.noneDirect, 2)}`,
      `JWT verification + revocation check: ${fmt(jwtCost.cpuMsOverApiKey, 3)} ms of gateway CPU per request more than an API key (${fmt(jwtCost.cpuMsOverAuthNone, 3)} ms more than auth none), ${fmt(jwtCost.meanMsOverApiKey, 2)} ms mean latency`,
      `jose jwtVerify (ES256) of the same token in this process, the signature part of it: ${fmt(joseVerify.cpuMs * 1000, 0)} µs CPU (${fmt(joseVerify.wallMs * 1000, 0)} µs wall) per call`,
    );
    const noisiest = Math.max(...tokenRuns.map((r) => r.foreignCpuShare), ...mcpRuns.map((r) => r.foreignCpuShare));
    if (noisiest > FOREIGN_WARN) out.push(`warning: other processes used up to ${fmt(noisiest * 100, 0)}% of the machine during a run ('other load'); the numbers are noisy`);
    for (const r of [...tokenRuns, ...mcpRuns].filter((x) => x.load.errors > 0)) out.push(`errors in round ${r.round} ${r.scenario}: ${r.load.errors}, first: ${r.load.firstError}`);
    for (const p of profiles) out.push('', ...formatProfile(`oauth gateway CPU profile ${p.file}`, p));
    process.stdout.write(`${out.join('\n')}\n`);
  }
  if (errors > 0) exitCode = 1;
} catch (err) {
  process.stderr.write(`bench: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  for (const log of ['gateway-oauth.log', 'gateway-none.log'].map((f) => join(work, f)).filter(existsSync)) {
    for (const line of (await scanLog(log, 10).catch(() => undefined))?.samples ?? []) process.stderr.write(`  ${log}: ${line}\n`);
  }
  exitCode = 1;
} finally {
  await stopAllChildren();
}
process.exit(exitCode);
