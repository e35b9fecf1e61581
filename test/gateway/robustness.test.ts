import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startGateway } from '../helpers/gateway.js';
import { connectClient, getJson, postRaw } from '../helpers/client.js';
import { notesServerCommand, startHttpUpstream } from '../helpers/upstreams.js';

/** Inputs an attacker or a broken client might send; none may crash the gateway or earn a 5xx. */
function hostileBodies(): (string | Buffer)[] {
  const deep = '['.repeat(200_000) + ']'.repeat(200_000);
  return [
    randomBytes(2000),
    Buffer.from([0xff, 0xfe, 0xfd]),
    deep,
    `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}}}`,
    '{"jsonrpc":"2.0","id":1e400,"method":"ping"}',
    '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":"not an object"}',
    '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":{"$gt":""}}}',
    '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"\\ud800"}}}',
    '{"__proto__":{"polluted":true},"jsonrpc":"2.0","id":1,"method":"ping"}',
    '{"jsonrpc":"2.0","id":1,"method":' + JSON.stringify('x'.repeat(100_000)) + '}',
    JSON.stringify(Array.from({ length: 5000 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'ping' }))),
    '',
    'null',
  ];
}

test('hostile bodies get 4xx or a proper answer, never a 5xx or a crash; the gateway then serves normally', async () => {
  const upstream = await startHttpUpstream({ stateful: false, json: true });
  const gw = await startGateway({ upstreams: { web: { url: upstream.url, allow: { tools: ['echo'] } } }, rateLimit: { perIp: false } });
  try {
    for (const body of hostileBodies()) {
      const r = await postRaw(`${gw.url}/mcp/web`, body);
      assert.ok(r.status < 500, `status ${r.status} for ${String(body).slice(0, 60)}`);
      if (r.status >= 400) assert.equal(r.json?.jsonrpc, '2.0', 'every refusal is a JSON-RPC error body');
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
    assert.ok(!gw.logs.text.includes('"level":50'), 'no error-level log line: nothing unexpected happened');
    const { client } = await connectClient(`${gw.url}/mcp/web`);
    assert.equal(((await client.callTool({ name: 'echo', arguments: { text: 'still here' } })).content as { text: string }[])[0]!.text, 'still here');
    await client.close();
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('ten concurrent sessions on a stdio upstream each get their own child, and all end', async () => {
  const gw = await startGateway({ upstreams: { notes: { command: notesServerCommand(), setEnv: { WARDEN_DEMO_NOTES: '/tmp/warden-test-concurrent.json' } } } });
  try {
    const clients = await Promise.all(Array.from({ length: 10 }, () => connectClient(`${gw.url}/mcp/notes`)));
    assert.equal((await getJson(`${gw.url}/readyz`)).upstreams.notes.sessions, 10);
    assert.equal(new Set(clients.map((c) => c.transport.sessionId)).size, 10);
    const results = await Promise.all(clients.map(async ({ client }, i) => {
      const progress: number[] = [];
      const r = await client.callTool({ name: 'count_slowly', arguments: { n: 3 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
      return `${i}:${progress.join(',')}:${(r.content as { text: string }[])[0]!.text}`;
    }));
    assert.deepEqual(results, Array.from({ length: 10 }, (_, i) => `${i}:1,2,3:Counted to 3`), 'no answer or progress went to the wrong session');
    await Promise.all(clients.map(({ transport, client }) => transport.terminateSession().then(() => client.close())));
    assert.equal((await getJson(`${gw.url}/readyz`)).upstreams.notes.sessions, 0);
  } finally {
    await gw.close();
  }
});
