import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { recordOutput, recordSecret, type SecretKind } from './secret-sweep.js';

/** The built CLI: tests exercise what `warden` users run (`npm run build` first). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MAIN = join(ROOT, 'dist', 'cli', 'main.js');

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The test runner's environment minus what would change how the CLI behaves. */
export function cliEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const base = { ...process.env };
  delete base.WARDEN_CONFIG;
  delete base.NODE_TEST_CONTEXT;
  delete base.NODE_OPTIONS;
  return { ...base, ...env };
}

/**
 * For the no-secret sweep: what a command prints once on purpose (a new key, a client secret, a generated
 * password) is remembered as a secret, and every other output of the CLI is searched for secrets.
 */
function sweepRun(stdout: string, stderr: string): void {
  recordOutput('CLI error output', stderr);
  const shown: [SecretKind, string][] = [...stdout.matchAll(/\bwdn_[A-Za-z0-9]{61}\b/g)].map(([key]) => ['api_key', key]);
  const secret = /^client_secret\s+(\S+)$/m.exec(stdout)?.[1];
  if (secret) shown.push(['client_secret', secret]);
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(stdout) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  for (const [field, kind] of [['client_secret', 'client_secret'], ['password', 'password'], ['key', 'api_key']] as const) {
    if (json && typeof json[field] === 'string') shown.push([kind, json[field]]);
  }
  for (const [kind, value] of shown) recordSecret(kind, value);
  if (shown.length === 0) recordOutput('CLI output', stdout);
}

/**
 * Runs `warden ...args` to its end (killed after `timeoutMs`, so a command that wrongly keeps serving fails fast),
 * with `input` on stdin when given (e.g. a password for --password-stdin); else with no stdin.
 */
export function warden(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 15_000, input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, env: cliEnv(env), stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      sweepRun(stdout, stderr);
      resolve({ code, signal, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}
