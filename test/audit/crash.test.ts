import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIN, ROOT, cliEnv } from '../helpers/cli.js';
import { startHttpUpstream } from '../helpers/upstreams.js';
import { freePort } from '../helpers/client.js';
import { SqliteStore } from '../../src/store/index.js';
import { parseAuditRow, verifyAuditChain, verifyAuditChains } from '../../src/audit/index.js';

function serve(config: string): ChildProcess {
  return spawn(process.execPath, [MAIN, 'serve', '--config', config], { cwd: ROOT, env: cliEnv(), stdio: ['ignore', 'ignore', 'ignore'] });
}

async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the gateway did not start');
}

/**
 * The durability promise of the audit log: a call's record is committed before the call is forwarded, so
 * killing the gateway at any moment cannot leave a call that the client saw answered without its record.
 */
test('SIGKILL mid-load: every call whose answer the client received has its record after restart, and the chain verifies', async () => {
  const upstream = await startHttpUpstream({ stateful: false, json: true });
  const dir = mkdtempSync(join(tmpdir(), 'warden-crash-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = join(dir, 'warden.yaml');
  writeFileSync(config, [
    `listen: { host: 127.0.0.1, port: ${port} }`,
    'rateLimit: { perIp: false }',
    'audit: { log: false }',
    'log: { level: warn }',
    `store: { sqlite: ${join(dir, 'warden.db')} }`,
    'upstreams:',
    `  bench: { url: ${upstream.url} }`,
  ].join('\n'));

  let gateway = serve(config);
  await waitReady(url);
  const answered: string[] = [];
  let failed = 0;
  let stop = false;
  let n = 0;
  const worker = async () => {
    while (!stop) {
      const id = `crash-${n++}`;
      try {
        const res = await fetch(`${url}/mcp/bench`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'x-request-id': id },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: id } } }),
        });
        const body = (await res.json()) as { result?: { content?: { text?: string }[] } };
        if (res.status === 200 && body.result?.content?.[0]?.text === id) answered.push(id);
      } catch {
        failed++;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  };
  const workers = Array.from({ length: 24 }, worker);
  // Kill once a few hundred calls are through, while two dozen are in flight.
  while (answered.length < 300) await new Promise((r) => setTimeout(r, 10));
  gateway.kill('SIGKILL');
  await new Promise((r) => gateway.once('exit', r));
  await new Promise((r) => setTimeout(r, 100));
  stop = true;
  await Promise.all(workers);
  assert.ok(failed > 0, 'some calls were cut off by the kill');

  // Restart: the gateway opens the same store and goes on appending to the same chain.
  gateway = serve(config);
  await waitReady(url);
  const after = await fetch(`${url}/mcp/bench`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'x-request-id': 'after-restart' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } }),
  });
  assert.equal(after.status, 200);
  gateway.kill('SIGTERM');
  await new Promise((r) => gateway.once('exit', r));
  await upstream.close();

  const store = new SqliteStore(join(dir, 'warden.db'));
  try {
    const recorded = new Set<string>();
    // The gateway before the kill and the one after are two processes: two instances' chains.
    for (const { instance } of await store.audit.chains()) {
      for (let page = await store.audit.scan(instance, 0, 5000), last = 0; page.length > 0; page = await store.audit.scan(instance, last, 5000)) {
        for (const row of page) {
          const record = parseAuditRow(row);
          if (record.event === 'call' && record.decision === 'allow') recorded.add(record.requestId);
          last = row.seq;
        }
      }
    }
    const missing = answered.filter((id) => !recorded.has(id));
    assert.deepEqual(missing, [], `${missing.length} of ${answered.length} answered calls have no record`);
    assert.ok(recorded.has('after-restart'));
    const verified = await verifyAuditChains(store.audit);
    assert.equal(verified.ok, true, JSON.stringify(verified));
  } finally {
    await store.close();
  }
});
