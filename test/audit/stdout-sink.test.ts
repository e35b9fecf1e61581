import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIN, ROOT, cliEnv } from '../helpers/cli.js';
import { startHttpUpstream } from '../helpers/upstreams.js';
import { freePort, postRaw } from '../helpers/client.js';

test('audit.stdout: `warden serve` writes each chained record as one JSON line on stdout, for log shippers', async () => {
  const upstream = await startHttpUpstream({ stateful: false, json: true });
  const dir = mkdtempSync(join(tmpdir(), 'warden-stdout-'));
  const port = await freePort();
  const config = join(dir, 'warden.yaml');
  writeFileSync(config, [
    `listen: { host: 127.0.0.1, port: ${port} }`,
    'audit: { stdout: true }',
    `store: { sqlite: ${join(dir, 'warden.db')} }`,
    `upstreams: { web: { url: ${upstream.url} } }`,
  ].join('\n'));
  const gateway = spawn(process.execPath, [MAIN, 'serve', '--config', config], { cwd: ROOT, env: cliEnv(), stdio: ['ignore', 'pipe', 'ignore'] });
  let stdout = '';
  gateway.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
      } catch {
        if (i > 200) throw new Error('the gateway did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const call = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } });
    assert.equal((await postRaw(`http://127.0.0.1:${port}/mcp/web`, call, { 'x-request-id': 'to-stdout' })).status, 200);
    for (let i = 0; i < 100 && stdout.split('\n').filter(Boolean).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  } finally {
    gateway.kill('SIGTERM');
    await new Promise((r) => gateway.once('exit', r));
    await upstream.close();
  }
  const records = stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; requestId: string; seq: number; hash: string });
  assert.deepEqual(records.map((r) => [r.event, r.requestId, r.seq]), [['call', 'to-stdout', 1], ['outcome', 'to-stdout', 2]]);
  assert.ok(records.every((r) => /^[0-9a-f]{64}$/.test(r.hash)), 'the copies carry the chain fields');
});
