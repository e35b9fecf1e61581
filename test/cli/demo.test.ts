import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { connectClient } from '../helpers/client.js';
import { warden } from '../helpers/cli.js';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

test('warden demo: the bundled notes server behind the gateway, with its allow-list and audit file', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'warden-demo-'));
  const proc = spawn(process.execPath, [CLI, 'demo', '--port', '0', '--json', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(proc, 'exit');
  try {
    const [line] = (await once(proc.stdout!, 'data')) as [Buffer];
    const info = JSON.parse(line.toString()) as { url: string; auditFile: string; allowedTools: string[] };
    assert.match(info.url, /^http:\/\/localhost:\d+\/mcp$/);

    const { client } = await connectClient(info.url);
    const tools = (await client.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(tools, [...info.allowedTools].sort());
    assert.ok(!tools.includes('delete_note'));
    const saved = await client.callTool({ name: 'add_note', arguments: { title: 'from the test', body: 'hello' } });
    assert.match(JSON.stringify(saved), /Saved note/);
    assert.match(JSON.stringify(await client.callTool({ name: 'search_notes', arguments: { query: 'from the test' } })), /from the test/);
    await assert.rejects(client.callTool({ name: 'delete_note', arguments: { id: 'welcome' } }), /not allowed/);
    await client.close();

    const records = readFileSync(info.auditFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const calls = records.filter((r) => r.method === 'tools/call').map((r) => `${r.event} ${r.decision} ${r.target}`);
    assert.deepEqual(calls, ['call allow add_note', 'outcome allow add_note', 'call allow search_notes', 'outcome allow search_notes', 'call deny delete_note']);
    // The same records are chained in the demo's store, with seq and hashes.
    assert.ok(records.every((r) => Number.isInteger(r.seq) && /^[0-9a-f]{64}$/.test(r.hash)));
    assert.ok(!readFileSync(info.auditFile, 'utf8').includes('hello'), 'tool arguments are not recorded');
    assert.equal(statSync(info.auditFile).mode & 0o777, 0o600);
  } finally {
    proc.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0);
  }
});

test('warden demo refuses a non-loopback --host (it runs without authentication) and a bad --port or --max-sessions', async () => {
  for (const host of ['0.0.0.0', '192.168.1.10']) {
    const run = await warden(['demo', '--host', host, '--port', '0'], {}, 60_000);
    assert.equal(run.code, 2, `--host ${host}: ${run.stderr}`);
    assert.match(run.stderr, /auth: none.*loopback only/);
  }
  assert.equal((await warden(['demo', '--port', 'eighty'], {}, 60_000)).code, 2);
  assert.match((await warden(['demo', '--max-sessions', '0'], {}, 60_000)).stderr, /1-10000/);
  // Control: a loopback host other than the default serves.
  const proc = spawn(process.execPath, [CLI, 'demo', '--host', 'localhost', '--port', '0', '--json', '--data-dir', mkdtempSync(join(tmpdir(), 'warden-demo-'))], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(proc, 'exit');
  try {
    const [line] = (await once(proc.stdout!, 'data')) as [Buffer];
    assert.match(line.toString(), /"url":"http:\/\/localhost:\d+\/mcp"/);
  } finally {
    proc.kill('SIGTERM');
    await exited;
  }
});
