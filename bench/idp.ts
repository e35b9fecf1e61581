/**
 * Enterprise costs, against one `warden serve` that trusts a company IdP (a real oidc-provider, in this
 * process, over HTTP: discovery, JWKS, client credentials):
 * 1. `tools/call echo` directly, with the embedded authorization server's JWT, and with the IdP's JWT (RS256,
 *    verified with jose's remote JWKS; the verification is cached per token, as for the embedded AS's tokens).
 * 2. RFC 8693 token exchange at the gateway (an IdP access token → a gateway token for one upstream), tokens/s
 *    at concurrency 1 and 8.
 *
 *   npm run build && node --import tsx bench/idp.ts [--quick] [--rounds 3] [--seconds 3] [--warmup 2] [--concurrency 32] [--json]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  GATEWAY_ENTRY, echoCallPlan, fmt, freePorts, loadPool, measurementHeader, measurementRow, median, parseOptions, requireBuiltGateway, runRounds,
  serveWarden, startNode, stopAllChildren, summarize, table, waitForLine, waitForWarden, writeWardenConfig, type LoadResult, type Measured, type Scenario,
} from './lib/index.js';
import { basicAuth, runWorkers, tokenRequest, wardenJson } from './lib/oauth.js';
import { IDP_SERVICE, startIdp } from '../test/helpers/idp.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const options = parseOptions(
  { rounds: quick ? 1 : 3, seconds: quick ? 1 : 3, warmupSeconds: quick ? 0.5 : 2, concurrency: 32, json: false, cpuProf: false },
  argv.filter((a) => a !== '--quick'),
);
const EXCHANGE_CONCURRENCY = [1, 8];
const progress = (line: string) => process.stderr.write(`bench: ${line}\n`);
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

requireBuiltGateway('bench/idp.ts');
const work = mkdtempSync(join(tmpdir(), 'warden-bench-idp-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
let exitCode = 0;
const idp = await startIdp();
idp.groups.set(IDP_SERVICE.id, ['bench-users']);

try {
  const upstream = startNode('upstream', ['--import', 'tsx', 'bench/upstream-server.ts'], { stdout: 'lines' });
  const upstreamUrl = `http://127.0.0.1:${Number((await waitForLine(upstream, /^PORT (\d+)$/))[1])}/mcp`;
  const [port] = (await freePorts(1)) as [number];
  const issuer = `http://127.0.0.1:${port}`;
  const resource = `${issuer}/mcp/bench`;
  const config = join(work, 'warden.yaml');
  const lines = (exchangeClient?: string) => [
    `auth: { oauth: { localPasswords: true${exchangeClient ? `, tokenExchange: { clients: [${exchangeClient}] }` : ''} }, jwt: { issuers: [{ issuer: ${idp.issuer}, use: [access-token${exchangeClient ? ', token-exchange' : ''}], claims: { roles: groups }, roles: { bench-users: [bench] } }] } }`,
    `store: { sqlite: ${join(work, 'warden.db')} }`,
    'authorization:',
    '  scopes: { "bench:echo": { tools: [echo] } }',
    '  roles: { bench: ["bench:echo"] }',
  ];
  // The operator's way: the CLI makes the service client; the config then names it as allowed to exchange.
  writeWardenConfig(config, port, upstreamUrl, lines());
  const service = await wardenJson<{ client_id: string; client_secret: string }>(GATEWAY_ENTRY, ['clients', 'add', '--name', 'bench', '--scope', 'bench:echo', '--config', config]);
  writeWardenConfig(config, port, upstreamUrl, lines(service.client_id));
  const log = join(work, 'gateway.log');
  const gateway = serveWarden('gateway', config, log);
  await waitForWarden(gateway, issuer, log);

  const serviceAuth = { authorization: basicAuth(service.client_id, service.client_secret) };
  const one = loadPool(issuer, 1);
  const embedded = await tokenRequest(one, { grant_type: 'client_credentials', scope: 'bench:echo', resource }, serviceAuth);
  if ('error' in embedded) throw new Error(`client_credentials: ${embedded.error}`);
  const idpToken = await idp.serviceToken(resource);
  const subjectToken = await idp.serviceToken(issuer);

  const pools = new Map(EXCHANGE_CONCURRENCY.map((c) => [c, loadPool(issuer, c)]));
  const exchange = async (c: number) => {
    const r = await tokenRequest(pools.get(c)!, { grant_type: TOKEN_EXCHANGE, subject_token: subjectToken, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', resource }, serviceAuth);
    return 'error' in r ? r.error : undefined;
  };
  const check = await exchange(1);
  if (check) throw new Error(`token exchange: ${check}`);
  const exchangeRuns: { concurrency: number; round: number; load: LoadResult }[] = [];
  for (const c of EXCHANGE_CONCURRENCY) {
    await runWorkers(c, options.warmupSeconds * 1000, () => exchange(c));
    await sleep(300);
  }
  for (let round = 1; round <= options.rounds; round++) {
    for (const c of EXCHANGE_CONCURRENCY) {
      const load = await runWorkers(c, options.seconds * 1000, () => exchange(c));
      exchangeRuns.push({ concurrency: c, round, load });
      progress(`round ${round} token exchange c${c}: ${fmt(load.rps, 0)} tokens/s, p99 ${fmt(load.p99Ms, 2)} ms${load.errors ? `, ${load.errors} errors (${load.firstError})` : ''}`);
      await sleep(300);
    }
  }
  await Promise.all([one, ...pools.values()].map((p) => p.destroy()));

  const processes: Measured[] = [{ label: 'upstream', pid: upstream.pid }, { label: 'gateway', pid: gateway.pid }];
  const scenarios: Scenario[] = [
    { name: 'direct', url: upstreamUrl, path: ['upstream'] },
    { name: 'embedded AS JWT', url: resource, path: ['gateway', 'upstream'], headers: { authorization: `Bearer ${embedded.ok.access_token}` } },
    { name: 'IdP JWT', url: resource, path: ['gateway', 'upstream'], headers: { authorization: `Bearer ${idpToken}` } },
  ];
  const { rounds } = await runRounds({ scenarios, processes, options, progress, ...echoCallPlan('hello from the benchmark') });
  const summary = summarize(rounds, scenarios, processes);
  const ratio = median(Array.from({ length: options.rounds }, (_, i) => {
    const rps = (n: string) => rounds.find((r) => r.round === i + 1 && r.scenario === n)!.load.rps;
    return rps('IdP JWT') / rps('embedded AS JWT');
  }));
  const exchangeSummary = EXCHANGE_CONCURRENCY.map((c) => {
    const mine = exchangeRuns.filter((r) => r.concurrency === c);
    return { concurrency: c, tokensPerSecond: median(mine.map((r) => r.load.rps)), p50Ms: median(mine.map((r) => r.load.p50Ms)), p99Ms: median(mine.map((r) => r.load.p99Ms)), errors: mine.reduce((n, r) => n + r.load.errors, 0) };
  });
  const errors = rounds.reduce((n, r) => n + r.load.errors, 0) + exchangeSummary.reduce((n, s) => n + s.errors, 0);
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ options: { ...options, quick }, cpus: cpus().length, mcp: summary, idpOverEmbedded: ratio, tokenExchange: exchangeSummary }, null, 2)}\n`);
  } else {
    const out = [
      `IdP bench: ${options.rounds} rounds x ${options.seconds}s per target${quick ? ' (--quick)' : ''}; node ${process.version}, ${cpus().length} CPUs shared by the load generator, the IdP, the upstream and the gateway`,
      '', `MCP tools/call echo, concurrency ${options.concurrency} (medians)`,
      table(measurementHeader(processes), summary.map((s) => measurementRow(s.scenario, s, processes, scenarios.find((x) => x.name === s.scenario)!.path))),
      '', `throughput IdP JWT / embedded AS JWT: ${fmt(ratio, 2)}`,
      '', 'RFC 8693 token exchange at the gateway (medians)',
      table(['conc', 'tokens/s', 'p50 ms', 'p99 ms', 'errors'], exchangeSummary.map((s) => [String(s.concurrency), fmt(s.tokensPerSecond, 0), fmt(s.p50Ms, 2), fmt(s.p99Ms, 2), String(s.errors)])),
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  }
  if (errors > 0) exitCode = 1;
} catch (err) {
  process.stderr.write(`bench: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  exitCode = 1;
} finally {
  await stopAllChildren();
  await idp.close();
}
process.exit(exitCode);
