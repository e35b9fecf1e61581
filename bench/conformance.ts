/**
 * The official MCP conformance suite (`@modelcontextprotocol/conformance`, newest prerelease) run against a
 * server directly and through the gateway — with the server as an HTTP upstream and as a stdio upstream — for
 * both protocol eras (issue 14):
 *   - 2025-11-25: `@modelcontextprotocol/server-everything` (SDK 1.x), nobody here wrote it;
 *   - 2026-07-28: an SDK 2.x server (test/helpers/modern.ts over HTTP, modern-stdio-server.ts over stdio).
 * Every check that passes directly must pass through the gateway; the run lists each one that does not and
 * exits 1 when there is any. The gateway runs with `auth: none` (the suite brings no credentials).
 *
 *   npm run conformance [-- --json] [-- --era 2025-11-25|2026-07-28]
 *
 * The suite's prereleases need Node 22 (`fs.globSync`); on Node 20 bench/conformance/node20.mjs lends them
 * the `glob` package's. Results: one line per target, then the regressions; --json prints one document.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configSchema } from '../src/config/index.js';
import { startGateway, type RunningGateway } from '../src/gateway/index.js';
import { createLogger } from '../src/shared/log.js';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, startNode, stopAllChildren, table } from './lib/index.js';
import { modernStdioCommand, startModernUpstream } from '../test/helpers/modern.js';

const require = createRequire(import.meta.url);
const CLI = require.resolve('@modelcontextprotocol/conformance/dist/index.js');
const NODE20 = fileURLToPath(new URL('./conformance/node20.mjs', import.meta.url));
const EVERYTHING = fileURLToPath(new URL('./dist/index.js', `file://${require.resolve('@modelcontextprotocol/server-everything/package.json')}`));

type Era = '2025-11-25' | '2026-07-28';
const argv = process.argv.slice(2);
const json = argv.includes('--json');
const eraFlag = argv.indexOf('--era');
const eras: Era[] = eraFlag === -1 ? ['2025-11-25', '2026-07-28'] : [argv[eraFlag + 1] as Era];
const progress = (line: string) => process.stderr.write(`conformance: ${line}\n`);

interface Check {
  scenario: string;
  id: string;
  status: string;
  /** What the suite said when the check did not pass (its errorMessage and details). */
  why?: string;
}

/** Runs the suite's server scenarios against `url`; every check with its status. */
async function runSuite(url: string, era: Era): Promise<Check[]> {
  const cwd = mkdtempSync(join(tmpdir(), 'warden-conformance-'));
  try {
    const args = ['--import', NODE20, CLI, 'server', '--url', url, '--output-dir', 'results', ...(era === '2026-07-28' ? ['--spec-version', era] : [])];
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'ignore', 'ignore'] });
      child.once('error', reject);
      child.once('exit', () => resolve()); // the suite exits 1 when any check fails; the checks say which
    });
    const results = join(cwd, 'results');
    const checks: Check[] = [];
    for (const dir of readdirSync(results)) {
      const scenario = dir.replace(/^server-/, '').replace(/-\d{4}-\d{2}-\d{2}T.*$/, '');
      const list = JSON.parse(readFileSync(join(results, dir, 'checks.json'), 'utf8')) as { id: string; status: string; errorMessage?: string; details?: unknown }[];
      for (const c of list) {
        if (c.status === 'INFO') continue;
        const why = c.status === 'SUCCESS' ? undefined : `${c.errorMessage ?? c.status} ${JSON.stringify(c.details ?? {})}`.slice(0, 600);
        checks.push({ scenario, id: c.id, status: c.status, ...(why ? { why } : {}) });
      }
    }
    return checks;
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

async function gatewayFor(upstreams: Record<string, unknown>): Promise<RunningGateway> {
  const config = configSchema.parse({ listen: { host: '127.0.0.1', port: 0 }, log: { level: 'error' }, audit: { store: false }, upstreams });
  return startGateway(config, { log: createLogger({ level: 'error' }) });
}

/** Resolves once something accepts connections on the port (server-everything has no health endpoint). */
async function listening(port: number): Promise<void> {
  for (let i = 0; i < 150; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.end(() => resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(100);
  }
  throw new Error(`nothing listens on port ${port}`);
}

interface Target {
  name: string;
  url: string;
}

async function targetsFor(era: Era): Promise<{ targets: Target[]; stop: () => Promise<void> }> {
  if (era === '2025-11-25') {
    const port = await freePort();
    startNode('server-everything', [EVERYTHING, 'streamableHttp'], { env: { ...process.env, PORT: String(port) }, stdout: 'ignore', stderrFile: '/dev/null' });
    const direct = `http://127.0.0.1:${port}/mcp`;
    await listening(port);
    const gw = await gatewayFor({ http: { url: direct }, stdio: { command: [process.execPath, EVERYTHING, 'stdio'], env: ['PATH', 'HOME'] } });
    return {
      targets: [{ name: 'direct', url: direct }, { name: 'gateway → HTTP', url: `${gw.url}/mcp/http` }, { name: 'gateway → stdio', url: `${gw.url}/mcp/stdio` }],
      stop: async () => {
        await gw.close();
        await stopAllChildren();
      },
    };
  }
  const upstream = await startModernUpstream();
  const gw = await gatewayFor({ http: { url: upstream.url }, stdio: { command: modernStdioCommand(), env: ['PATH', 'HOME'] } });
  return {
    targets: [{ name: 'direct', url: upstream.url }, { name: 'gateway → HTTP', url: `${gw.url}/mcp/http` }, { name: 'gateway → stdio', url: `${gw.url}/mcp/stdio` }],
    stop: async () => {
      await gw.close();
      await upstream.close();
    },
  };
}

const key = (c: Check) => `${c.scenario} ${c.id}`;
const report: Record<string, {
  targets: Record<string, { passed: number; total: number }>;
  /** Checks that passed directly and failed through the gateway, with what the suite said. */
  regressions: Record<string, string[]>;
  /** Checks that passed directly and were not run through the gateway (conditional on the server's choices). */
  notRun: Record<string, string[]>;
}> = {};
let regressionCount = 0;
for (const era of eras) {
  progress(`${era}: starting the servers and the gateway`);
  const { targets, stop } = await targetsFor(era);
  try {
    const results: Record<string, Check[]> = {};
    for (const target of targets) {
      progress(`${era}: ${target.name} (${target.url})`);
      results[target.name] = await runSuite(target.url, era);
    }
    const passedDirectly = new Set(results.direct!.filter((c) => c.status === 'SUCCESS').map(key));
    const entry: (typeof report)[string] = { targets: {}, regressions: {}, notRun: {} };
    for (const target of targets) {
      const checks = results[target.name]!;
      const passed = new Set(checks.filter((c) => c.status === 'SUCCESS').map(key));
      entry.targets[target.name] = { passed: passed.size, total: checks.length };
      if (target.name === 'direct') continue;
      const failedHere = new Map(checks.filter((c) => c.status !== 'SUCCESS').map((c) => [key(c), c.why ?? c.status]));
      const lost = [...passedDirectly].filter((k) => failedHere.has(k)).sort().map((k) => `${k}: ${failedHere.get(k)}`);
      // Some checks run only on what the server chose: e.g. one reads SSE answers, and the stdio bridge may
      // answer a lone result as JSON (as the transport allows). Not run is listed, not counted as lost.
      const ran = new Set(checks.map(key));
      entry.notRun[target.name] = [...passedDirectly].filter((k) => !ran.has(k)).sort();
      entry.regressions[target.name] = lost;
      regressionCount += lost.length;
    }
    report[era] = entry;
  } finally {
    await stop();
  }
}

if (json) {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  for (const [era, entry] of Object.entries(report)) {
    process.stdout.write(`\n${era}\n`);
    process.stdout.write(`${table(['target', 'checks passed', 'of', 'passed directly, failed here (not run)'], Object.entries(entry.targets).map(([name, t]) => [
      name, String(t.passed), String(t.total), name === 'direct' ? '-' : `${entry.regressions[name]!.length} (${entry.notRun[name]!.length})`,
    ]))}\n`);
    for (const [name, lost] of Object.entries(entry.regressions)) for (const k of lost) process.stdout.write(`  lost ${name}: ${k}\n`);
    for (const [name, skipped] of Object.entries(entry.notRun)) for (const k of skipped) process.stdout.write(`  not run ${name}: ${k}\n`);
  }
}
process.exit(regressionCount > 0 ? 1 : 0);
