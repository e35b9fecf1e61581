/** Child processes (this Node binary) that are killed when the benchmark exits, readiness waits and free ports. */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

/** The repository root (bench/lib/ is two levels below it): default cwd of children. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly proc: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process is gone. */
  readonly exited: Promise<number | string>;
  /** Lines the child wrote to stdout, when stdout is 'lines'. */
  readonly stdoutLines: string[];
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartChildOptions {
  /** 'lines': collect stdout lines (for a ready line); 'ignore': drop it. */
  stdout?: 'lines' | 'ignore';
  /** Append stderr to this file (the honest place for a server's logs: cheap, not dropped); else inherit. */
  stderrFile?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

const liveChildren = new Set<Child>();
let cleanupInstalled = false;

/** Kills any child still alive when this process exits, however it exits. */
function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', () => {
    for (const child of liveChildren) child.proc.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping children\n`);
      void stopAllChildren(1000).finally(() => process.exit(130));
    });
  }
}

/** Spawns `node <args>` (this Node binary). */
export function startNode(name: string, args: string[], options: StartChildOptions = {}): Child {
  installCleanup();
  const stderrFd = options.stderrFile ? openSync(options.stderrFile, 'a') : undefined;
  const proc = spawn(process.execPath, args, {
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env ?? process.env,
    stdio: ['ignore', options.stdout === 'lines' ? 'pipe' : 'ignore', stderrFd ?? 'inherit'],
  });
  if (stderrFd !== undefined) closeSync(stderrFd);
  if (proc.pid === undefined) throw new Error(`${name}: could not start ${process.execPath} ${args.join(' ')}`);
  const stdoutLines: string[] = [];
  if (proc.stdout) createInterface({ input: proc.stdout }).on('line', (line) => stdoutLines.push(line));
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  const child: Child = {
    name,
    pid: proc.pid,
    proc,
    exited,
    stdoutLines,
    async stop(graceMs = 5000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  liveChildren.add(child);
  void exited.then(() => liveChildren.delete(child));
  return child;
}

export async function stopAllChildren(graceMs = 5000): Promise<void> {
  await Promise.all([...liveChildren].map((c) => c.stop(graceMs)));
}

/** Waits for a stdout line matching `pattern`; fails early if the child exits. */
export async function waitForLine(child: Child, pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  let gone: number | string | undefined;
  void child.exited.then((code) => (gone = code));
  for (;;) {
    for (const line of child.stdoutLines) {
      const match = line.match(pattern);
      if (match) return match;
    }
    if (gone !== undefined) throw new Error(`${child.name} exited (${gone}) before printing ${pattern}`);
    if (Date.now() > deadline) throw new Error(`${child.name} printed no ${pattern} within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** Polls `url` until it answers 200; fails early if the child exits. */
export async function waitForHttp(url: string, child: Child, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone: number | string | undefined;
  void child.exited.then((code) => (gone = code));
  let last = '';
  for (;;) {
    if (gone !== undefined) throw new Error(`${child.name} exited (${gone}) before ${url} answered`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready within ${timeoutMs} ms (${last})`);
    await sleep(50);
  }
}

/** A port that was free a moment ago on 127.0.0.1 (for programs that cannot report the port they bound). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** `count` distinct ports that were free a moment ago: all held at once, so none is handed out twice. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  })));
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}
