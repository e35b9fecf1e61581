import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIN, cliEnv, warden } from '../helpers/cli.js';
import { getJson } from '../helpers/client.js';
import { Terminal } from '../helpers/terminal.js';

/** `warden serve` at start: the gravest doctor findings on stderr, `--log-level`, `--log-format`. */

let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'warden-serve-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

const BASE = [
  'auth: { apiKeys: {} }',
  'authorization: { scopes: { "notes:read": { tools: [search_notes] } } }',
  'upstreams: { notes: { url: "http://127.0.0.1:9/mcp" } }',
];

/** Starts serve, waits for its "serving" line, and returns stderr up to then plus the URL; stops it after. */
async function serveUntilListening(name: string, lines: string[], args: string[] = []): Promise<{ stderr: string; url: string }> {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, [...lines, `store: { sqlite: ${JSON.stringify(join(dir, `${name}.db`))} }`, ''].join('\n'));
  const child = spawn(process.execPath, [MAIN, 'serve', '-c', file, '--port', '0', ...args], { env: cliEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        const m = /warden: serving (https?:\/\/[^/\s]+)/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
    });
    // It serves: the warning is a warning, not a refusal.
    assert.equal((await getJson(`${url}/healthz`)).status, 'ok');
    // JSON log lines are written in batches at least every 250 ms.
    await new Promise((r) => setTimeout(r, 400));
    return { stderr, url };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

test('public scenario on 0.0.0.0 over plain HTTP with API keys: serve refuses to start, naming listen.tls and the proxy fix', async () => {
  const file = join(dir, 'open.yaml');
  writeFileSync(file, ['scenario: public', ...BASE, `store: { sqlite: ${JSON.stringify(join(dir, 'open.db'))} }`, ''].join('\n'));
  const run = await warden(['serve', '-c', file, '--port', '0']);
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /listen\.tls: scenario 'public' takes credentials.*set listen\.tls: \{ cert, key \}.*http\.trustProxy: 1/);
});

test('control: the same behind TLS (publicUrl https) starts without a warning', async () => {
  const { stderr } = await serveUntilListening('behind-tls', ['scenario: public', 'publicUrl: https://mcp.example.com', ...BASE]);
  assert.doesNotMatch(stderr, /WARNING/);
  assert.match(stderr, /"msg":"listening"/, 'JSON logs when stderr is not a terminal');
});

test('--log-level warn hides the info lines; --log-format pretty prints them for people', async () => {
  const quiet = await serveUntilListening('quiet', ['listen: { host: 127.0.0.1 }', ...BASE], ['--log-level', 'warn']);
  assert.doesNotMatch(quiet.stderr, /listening/);
  const pretty = await serveUntilListening('pretty', ['listen: { host: 127.0.0.1 }', ...BASE], ['--log-format', 'pretty']);
  assert.match(pretty.stderr, /\d\d:\d\d:\d\d.*INFO.*listening/);
  assert.doesNotMatch(pretty.stderr, /"msg":"listening"/);
});

test('OAuth on Node 20: no "Unsupported runtime" line from oidc-provider at start', async () => {
  const { stderr } = await serveUntilListening('oauth', ['listen: { host: 127.0.0.1 }', 'auth: { oauth: {} }', ...BASE.slice(1)]);
  assert.match(stderr, /warden: serving/);
  assert.doesNotMatch(stderr, /Unsupported runtime/);
});

test('on a terminal, logs are pretty lines without asking; piped, JSON (the tests above)', async () => {
  const file = join(dir, 'tty.yaml');
  writeFileSync(file, ['listen: { host: 127.0.0.1 }', ...BASE, `store: { sqlite: ${JSON.stringify(join(dir, 'tty.db'))} }`, ''].join('\n'));
  const term = new Terminal(`${process.execPath} ${MAIN} serve -c ${file} --port 0; echo "exit=$?"; sleep 30`);
  try {
    const screen = await term.waitFor(/INFO.*listening/);
    assert.doesNotMatch(screen, /"msg":/);
    term.interrupt();
    assert.match(await term.waitFor(/exit=\d+/), /INFO.*stopped[\s\S]*exit=0/);
  } finally {
    term.close();
  }
});
