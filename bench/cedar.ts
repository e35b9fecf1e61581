/**
 * Cedar on the hot path (issue 17), in two parts, both on the example policies (examples/policies: 9 policies)
 * with entities for the benchmark's upstream:
 *
 * 1. In process, the decision point alone: decisions per second and CPU µs per decision of `CedarEngine` —
 *    cache miss (every request new, cache off) and hit (the same request) — and a 50-tool list filtered per
 *    item (uncached, then cached) against one partial evaluation (`isAuthorizedPartial`, resource unknown),
 *    which is the floor of what partial evaluation could cost before its residuals are applied to any item.
 * 2. End to end, interleaved like bench/gateway-vs-floor.ts: `warden serve` with an API key and a scope for
 *    `echo` (apiKey), the same plus Cedar with its decision cache (cedarHit) and with the cache off (cedarMiss).
 *    The figure is the gateway's CPU ms per call and its ratio to apiKey's in the same round.
 *
 *   npm run build && node --import tsx bench/cedar.ts [--rounds 3] [--seconds 3] [--warmup 2] [--concurrency 32] [--json]
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAuthorizedPartial } from '../src/policy/cedar/wasm.js';
import {
  FOREIGN_WARN, GATEWAY_ENTRY, echoCallPlan, fmt, freePorts, median, parseOptions, requireBuiltGateway, runRounds, serveWarden,
  startNode, stopAllChildren, summarize, table, waitForLine, waitForWarden, writeWardenConfig, type Measured, type Scenario,
} from './lib/index.js';
import { wardenJson } from './lib/oauth.js';
import { CedarEngine, loadPolicySet, type PolicyRequest } from '../src/policy/cedar/index.js';
import { toCedar } from '../src/policy/cedar/cedar-json.js';

const options = parseOptions({ rounds: 3, seconds: 3, warmupSeconds: 2, concurrency: 32, json: false, cpuProf: false });
const progress = (line: string) => process.stderr.write(`bench: ${line}\n`);
const GATEWAYS = ['apiKey', 'cedarHit', 'cedarMiss'] as const;
type Gateway = (typeof GATEWAYS)[number];
const LIST_SIZE = 50;

requireBuiltGateway('bench');
const work = mkdtempSync(join(tmpdir(), 'warden-bench-cedar-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

/** The examples, with the benchmark's upstream (tenant `bench`) and its tools in ToolGroup::"read-only". */
function benchPolicies(): { policies: string; entities: string } {
  const policies = join(work, 'policies');
  cpSync(new URL('../examples/policies/', import.meta.url), policies, { recursive: true });
  const entities = JSON.parse(readFileSync(join(policies, 'entities.json'), 'utf8')) as unknown[];
  entities.push({ uid: { type: 'Upstream', id: 'bench' }, attrs: { tenant: 'bench' }, parents: [] });
  for (const tool of ['echo', ...Array.from({ length: LIST_SIZE }, (_, i) => `tool_${i}`)]) {
    entities.push({ uid: { type: 'Tool', id: `bench/${tool}` }, attrs: {}, parents: [{ type: 'ToolGroup', id: 'read-only' }] });
  }
  writeFileSync(join(policies, 'entities.json'), JSON.stringify(entities));
  return { policies, entities: join(policies, 'entities.json') };
}

function request(tool: string, args: Record<string, unknown>, listing = false): PolicyRequest {
  return {
    principal: { type: 'User', subject: 'bench', tenant: 'bench', roles: ['reader'], scopes: ['bench:echo'], credentialKind: 'api_key' },
    action: 'call_tool',
    resource: { upstream: 'bench', target: { kind: 'tool', name: tool } },
    context: { ...(listing ? {} : { arguments: args }), time: { hour: 10, minute: 0, weekday: 3, date: '2026-01-07' }, ip: '127.0.0.1', actors: [], transport: 'http', listing },
  };
}

/** Runs `op` for about `ms`, returning operations per second and CPU µs per operation (this process). */
function measure(ms: number, op: (i: number) => void): { perSecond: number; cpuUsPerOp: number } {
  for (let i = 0; i < 200; i++) op(-1 - i); // warm-up (JIT)
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < ms) for (let k = 0; k < 50; k++) op(n++);
  const elapsed = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: (n / elapsed) * 1000, cpuUsPerOp: (cpu.user + cpu.system) / n };
}

function inProcess(sources: { policies: string; entities: string }) {
  const set = loadPolicySet(sources);
  const cold = new CedarEngine(set, { cacheSize: 0 });
  const warm = new CedarEngine(set, { cacheSize: 10_000 });
  const ms = options.seconds * 1000;
  const miss = measure(ms, (i) => cold.decide(request('echo', { text: `call ${i}` })));
  const hit = measure(ms, () => warm.decide(request('echo', { text: 'same' })));
  const tools = Array.from({ length: LIST_SIZE }, (_, i) => `tool_${i}`);
  const listUncached = measure(ms, () => tools.forEach((t) => cold.permitsItem(request(t, {}, true))));
  const listCached = measure(ms, () => tools.forEach((t) => warm.permitsItem(request(t, {}, true))));
  const c = toCedar(request('echo', {}, true));
  const partial = measure(ms, () => isAuthorizedPartial({ principal: c.principal, action: c.action, resource: null, context: c.context, policies: { staticPolicies: set.texts }, entities: c.entities }));
  return {
    decisionMiss: miss, decisionHit: hit,
    [`list${LIST_SIZE}PerItemUncached`]: listUncached, [`list${LIST_SIZE}PerItemCached`]: listCached, partialEvaluationOnce: partial,
  };
}

let exitCode = 0;
try {
  const sources = benchPolicies();
  progress('in-process decisions...');
  const micro = inProcess(sources);

  const upstream = startNode('upstream', ['--import', 'tsx', 'bench/upstream-server.ts'], { stdout: 'lines' });
  const upstreamUrl = `http://127.0.0.1:${Number((await waitForLine(upstream, /^PORT (\d+)$/))[1])}/mcp`;
  const free = await freePorts(GATEWAYS.length);
  const ports = Object.fromEntries(GATEWAYS.map((g, i) => [g, free[i]!])) as Record<Gateway, number>;
  const authz = (cedar: string[]) => ['authorization:', '  scopes:', '    "bench:echo": { tools: [echo] }', '  roles:', '    reader: ["bench:echo"]', ...cedar];
  const cedar = (cacheSize: number) => ['  cedar:', `    policies: ${sources.policies}`, `    entities: ${sources.entities}`, `    cacheSize: ${cacheSize}`, '    reload: false'];
  const lines = (g: Gateway, extra: string[]) => ['auth: { apiKeys: {} }', `store: { sqlite: ${join(work, `${g}.db`)} }`, 'audit: { store: true }', ...authz(extra)];
  const configs: Record<Gateway, string> = {
    apiKey: writeWardenConfig(join(work, 'apiKey.yaml'), ports.apiKey, upstreamUrl, lines('apiKey', [])),
    cedarHit: writeWardenConfig(join(work, 'cedarHit.yaml'), ports.cedarHit, upstreamUrl, lines('cedarHit', cedar(10_000))),
    cedarMiss: writeWardenConfig(join(work, 'cedarMiss.yaml'), ports.cedarMiss, upstreamUrl, lines('cedarMiss', cedar(0))),
  };
  const keys = {} as Record<Gateway, string>;
  for (const g of GATEWAYS) {
    keys[g] = (await wardenJson<{ key: string }>(GATEWAY_ENTRY, ['keys', 'create', '--config', configs[g], '--subject', 'bench', '--tenant', 'bench', '--role', 'reader'])).key;
  }
  const logs = Object.fromEntries(GATEWAYS.map((g) => [g, join(work, `${g}.log`)])) as Record<Gateway, string>;
  const gateways = Object.fromEntries(GATEWAYS.map((g) => [g, serveWarden(g, configs[g], logs[g])])) as Record<Gateway, ReturnType<typeof serveWarden>>;
  for (const g of GATEWAYS) await waitForWarden(gateways[g], `http://127.0.0.1:${ports[g]}`, logs[g]);

  const processes: Measured[] = [{ label: 'upstream', pid: upstream.pid }, ...GATEWAYS.map((g) => ({ label: g, pid: gateways[g].pid }))];
  const scenarios: Scenario[] = GATEWAYS.map((g) => ({ name: g, url: `http://127.0.0.1:${ports[g]}/mcp/bench`, path: [g, 'upstream'], headers: { authorization: `Bearer ${keys[g]}` } }));
  progress(`${options.rounds} rounds x ${options.seconds}s per target, concurrency ${options.concurrency}`);
  const { rounds: results } = await runRounds({ scenarios, processes, options, progress, ...echoCallPlan('hello from the benchmark') });
  await stopAllChildren();
  const summary = summarize(results, scenarios, processes);
  const cpuOf = (name: string, round?: number) => {
    const m = round === undefined ? summary.find((s) => s.scenario === name)! : results.find((r) => r.scenario === name && r.round === round)!;
    return m.cpuMsPerRequest[name]!;
  };
  const ratio = (g: Gateway) => median(Array.from({ length: options.rounds }, (_, i) => cpuOf(g, i + 1) / cpuOf('apiKey', i + 1)));
  const endToEnd = Object.fromEntries(GATEWAYS.map((g) => {
    const s = summary.find((x) => x.scenario === g)!;
    return [g, { cpuMsPerCall: cpuOf(g), ratioToApiKey: ratio(g), callsPerSecond: s.rps, p50Ms: s.p50Ms, p99Ms: s.p99Ms, errors: s.errors, foreignCpuShareMax: s.foreignCpuShare }];
  }));
  const environment = { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown' };
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ inProcess: micro, endToEnd, options, environment }, null, 2)}\n`);
  } else {
    const noisiest = Math.max(...results.map((r) => r.foreignCpuShare));
    process.stdout.write([
      `Cedar decisions, in process (${options.seconds}s each; example policies, ${LIST_SIZE}-tool list):`,
      table(['case', 'per second', 'CPU µs each'], Object.entries(micro).map(([k, v]) => [k, fmt(v.perSecond, 0), fmt(v.cpuUsPerOp, 1)])),
      '',
      `End to end, tools/call echo, medians of ${options.rounds} rounds (node ${environment.node}, ${environment.cpus} CPUs); ratio: gateway CPU per call / apiKey's in the same round`,
      table(['target', 'calls/s', 'p50 ms', 'p99 ms', 'gateway CPU ms/call', 'ratio to apiKey', 'errors'],
        GATEWAYS.map((g) => { const e = endToEnd[g]!; return [g, fmt(e.callsPerSecond, 0), fmt(e.p50Ms, 2), fmt(e.p99Ms, 2), fmt(e.cpuMsPerCall, 3), fmt(e.ratioToApiKey, 2), String(e.errors)]; })),
      noisiest > FOREIGN_WARN ? `warning: other processes used up to ${fmt(noisiest * 100, 0)}% of the machine; rerun on a quiet machine` : `other load at most ${fmt(noisiest * 100, 0)}%`,
      '',
    ].join('\n'));
  }
  if (results.some((r) => r.load.errors > 0)) exitCode = 1;
} catch (err) {
  process.stderr.write(`bench: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  exitCode = 1;
} finally {
  await stopAllChildren();
}
process.exit(exitCode);
