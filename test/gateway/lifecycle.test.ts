import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { connectClient, postRaw } from '../helpers/client.js';
import { notesServerCommand } from '../helpers/upstreams.js';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** Runs `warden serve` as users do, collecting its stderr (the log) until it exits. */
async function serve(configYaml: string, env: Record<string, string>): Promise<{ proc: ChildProcess; url: string; stderr: () => string; exited: Promise<number | null> }> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-serve-'));
  const file = join(dir, 'warden.yaml');
  writeFileSync(file, configYaml);
  const proc = spawn(process.execPath, [CLI, 'serve', '--config', file], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (c) => (stderr += c));
  const exited = once(proc, 'exit').then(([code]) => code as number | null);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 10_000);
    proc.stderr!.on('data', () => {
      const m = /warden: serving (http:\/\/[^/]+)\//.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then((code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  return { proc, url, stderr: () => stderr, exited };
}

test('SIGTERM: the in-flight call finishes, new work is refused, children end, exit 0', async () => {
  const [node, server] = notesServerCommand();
  const dir = mkdtempSync(join(tmpdir(), 'warden-notes-'));
  const { proc, url, stderr, exited } = await serve(
    `listen: { port: 0 }\nhttp: { shutdownGrace: 10s }\nupstreams:\n  notes:\n    command: [${JSON.stringify(node)}, ${JSON.stringify(server)}]\n    setEnv: { WARDEN_DEMO_NOTES: ${JSON.stringify(join(dir, 'n.json'))} }\n`,
    {},
  );
  const { client } = await connectClient(`${url}/mcp/notes`);
  const progress: number[] = [];
  let signalled = false;
  let probe: Promise<number | string> | undefined;
  const call = client.callTool({ name: 'count_slowly', arguments: { n: 8 } }, undefined, {
    onprogress: (p) => {
      progress.push(p.progress);
      if (!signalled) {
        signalled = true;
        proc.kill('SIGTERM');
        setTimeout(() => {
          probe = fetch(`${url}/readyz`).then((r) => r.status, () => 'refused');
        }, 100);
      }
    },
  });
  const result = await call;
  assert.ok([503, 'refused'].includes((await probe)!), 'new work is refused while draining');
  assert.deepEqual((result.content as { text: string }[])[0]!.text, 'Counted to 8', 'the call that was running when SIGTERM came completed');
  assert.equal(progress.length, 8);
  assert.equal(await exited, 0);
  const log = stderr();
  assert.match(log, /"msg":"shutting down"/);
  assert.match(log, /gateway shutting down/, 'the session and its child were ended');
  const pid = Number(/"pid":(\d+),"msg":"session started"/.exec(log)![1]);
  assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the child process is gone');
});

test('no secret reaches the log: configured upstream credentials, caller tokens, secrets a child prints', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-secret-'));
  const childScript = join(dir, 'leaky.mjs');
  const [, notesServer] = notesServerCommand();
  // A badly behaved upstream that prints its secret to stderr on start.
  writeFileSync(childScript, `console.error('starting with key ' + process.env.LEAKY_KEY);\nawait import(${JSON.stringify(notesServer)});\n`);
  const upstreamSecret = 'sk-upstream-3f9a7c1e5b2d4f60';
  const callerToken = 'caller-bearer-token-8e1f2a9c';
  const { proc, url, stderr, exited } = await serve(
    `listen: { port: 0 }\nlog: { level: trace }\nupstreams:\n  leaky:\n    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(childScript)}]\n    setEnv: { LEAKY_KEY: "\${LEAKY_KEY}", WARDEN_DEMO_NOTES: ${JSON.stringify(join(dir, 'n.json'))} }\n`,
    { LEAKY_KEY: upstreamSecret },
  );
  const { client } = await connectClient(`${url}/mcp/leaky`, { authorization: `Bearer ${callerToken}`, cookie: `session=${callerToken}` });
  await client.callTool({ name: 'list_notes', arguments: {} });
  const bad = await postRaw(`${url}/mcp/leaky`, `{"token": "${callerToken}"`, { authorization: `Bearer ${callerToken}` });
  assert.equal(bad.status, 400);
  assert.ok(!bad.text.includes(callerToken), 'error answers do not echo the body');
  await client.close();
  proc.kill('SIGTERM');
  await exited;
  const log = stderr();
  assert.match(log, /starting with key \[REDACTED\]/, "the child's stderr line is logged, scrubbed");
  assert.ok(!log.includes(upstreamSecret), 'the upstream secret never appears');
  assert.ok(!log.includes(callerToken), "the caller's token never appears");
  assert.ok(log.split('\n').filter(Boolean).length > 5, 'there was a log to search');
});

test('with auth none, a non-loopback listen address is refused with exit 2 and says what to do', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-bind-'));
  const file = join(dir, 'warden.yaml');
  writeFileSync(file, 'listen: { host: 0.0.0.0 }\nupstreams:\n  x: { url: "http://127.0.0.1:1/mcp" }\n');
  const proc = spawn(process.execPath, [CLI, 'serve', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (c) => (err += c));
  const [code] = await once(proc, 'exit');
  assert.equal(code, 2);
  assert.match(err, /listen\.host: refusing to listen on 0\.0\.0\.0 with auth: none/);
  assert.match(err, /listen on 127\.0\.0\.1/);
});
