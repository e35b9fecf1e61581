import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAIN, ROOT, cliEnv } from './cli.js';
import { freePort } from './client.js';
import { startHaproxy } from '../../bench/lib/haproxy.js';

/**
 * Several `warden serve` processes behind HAProxy (Debian's, installed by .ci/run), as a team runs them: each
 * instance its own port and audit instance id, one config otherwise. Used by the several-instances tests and
 * bench/cluster.ts.
 */

export interface Instance {
  readonly id: string;
  readonly port: number;
  readonly url: string;
  readonly configFile: string;
  child: ChildProcess;
  /** stderr so far (the gateway's JSON log). */
  stderr: string;
  /** Starts it again after a kill, with the same config and port. */
  start(): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface Cluster {
  instances: Instance[];
  /** The load balancer's address: what clients use. */
  url: string;
  close(): Promise<void>;
}

export interface ClusterOptions {
  dir: string;
  size: number;
  /** The YAML for one instance (all but `listen` and `audit.instance`, which the cluster adds). */
  config: (instance: { id: string; port: number; lbUrl: string }) => string;
  /** Extra environment for every instance. */
  env?: NodeJS.ProcessEnv;
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const lbPort = await freePort();
  const lbUrl = `http://127.0.0.1:${lbPort}`;
  const instances: Instance[] = [];
  for (let i = 1; i <= options.size; i++) {
    const id = `gw-${i}`;
    const port = await freePort();
    const configFile = join(options.dir, `${id}.yaml`);
    writeFileSync(configFile, `${options.config({ id, port, lbUrl })}\nlisten: { host: 127.0.0.1, port: ${port} }\n`);
    instances.push(makeInstance(id, port, configFile, options.env ?? {}));
  }
  const lb = await startHaproxy(join(options.dir, 'haproxy.cfg'), lbPort, instances.map((i) => ({ name: i.id, port: i.port })));
  try {
    await Promise.all(instances.map((i) => i.start()));
    await waitFor(async () => (await fetch(`${lbUrl}/healthz`)).ok, 10_000, 'HAProxy to see a healthy instance');
  } catch (err) {
    await Promise.all(instances.map((i) => i.kill('SIGKILL')));
    lb.kill('SIGKILL');
    throw err;
  }
  return {
    instances,
    url: lbUrl,
    close: async () => {
      await Promise.all(instances.map((i) => i.kill('SIGTERM')));
      lb.kill('SIGTERM');
      await new Promise((r) => (lb.exitCode !== null ? r(undefined) : lb.once('exit', r)));
    },
  };
}

function makeInstance(id: string, port: number, configFile: string, env: NodeJS.ProcessEnv): Instance {
  const instance: Instance = {
    id,
    port,
    url: `http://127.0.0.1:${port}`,
    configFile,
    child: undefined as unknown as ChildProcess,
    stderr: '',
    start: async () => {
      instance.stderr = '';
      const child = spawn(process.execPath, [MAIN, 'serve', '-c', configFile, '--log-format', 'json'], {
        cwd: ROOT,
        env: cliEnv(env),
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      instance.child = child;
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (instance.stderr += d));
      await new Promise<void>((resolve, reject) => {
        const onData = (): void => {
          if (/warden: serving|"msg":"listening"/.test(instance.stderr)) {
            child.stderr!.off('data', onData);
            resolve();
          }
        };
        child.stderr!.on('data', onData);
        child.once('exit', (code, signal) => reject(new Error(`${id} exited (${code ?? signal}) before serving:\n${instance.stderr}`)));
      });
    },
    kill: async (signal = 'SIGTERM') => {
      const child = instance.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await new Promise((r) => child.once('exit', r));
    },
  };
  return instance;
}

export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
