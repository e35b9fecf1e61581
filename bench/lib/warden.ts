/** `warden serve` processes for the benchmarks: the built CLI, a config file per gateway, optional CPU profiles. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { REPO_ROOT, startNode, waitForHttp, type Child } from './children.js';

/** The built CLI the gateways run from. */
export const GATEWAY_ENTRY = join(REPO_ROOT, 'dist/cli/main.js');

/** Exits with a hint when dist/ was not built (the npm scripts build it first). */
export function requireBuiltGateway(script: string): void {
  if (existsSync(GATEWAY_ENTRY)) return;
  process.stderr.write(`bench: dist/cli/main.js is missing; run \`npm run build\` first (or use \`npm run ${script}\`)\n`);
  process.exit(2);
}

/**
 * Writes a gateway config: loopback on `port`, one HTTP upstream named `bench`, log level info, the per-IP
 * limiter off (a load generator is one IP), and `lines` (auth, store, audit, authorization) in between.
 */
export function writeWardenConfig(file: string, port: number, upstreamUrl: string, lines: readonly string[]): string {
  writeFileSync(file, [
    'scenario: local',
    'listen:',
    '  host: 127.0.0.1',
    `  port: ${port}`,
    ...lines,
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
}

/** `warden serve --config <config>`, its log (stderr) appended to `log`; with `profileDir`, under --cpu-prof. */
export function serveWarden(label: string, config: string, log: string, profileDir?: string): Child {
  return startNode(label, [
    ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
    GATEWAY_ENTRY,
    'serve',
    '--config',
    config,
  ], { stderrFile: log });
}

/**
 * Waits until a gateway is ready for every kind of request. /healthz answers as soon as the socket listens,
 * before the authorization server's routes and the upstream identities are set up; the `listening` log
 * line comes after them.
 */
export async function waitForWarden(child: Child, baseUrl: string, log: string, timeoutMs = 15_000): Promise<void> {
  await waitForHttp(`${baseUrl}/healthz`, child, timeoutMs);
  const deadline = Date.now() + timeoutMs;
  while (!/"msg":"listening"/.test(readFileSync(log, 'utf8'))) {
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) throw new Error(`${child.name} exited before it logged 'listening'`);
    if (Date.now() > deadline) throw new Error(`${child.name} logged no 'listening' line within ${timeoutMs} ms (${log})`);
    await sleep(20);
  }
}
