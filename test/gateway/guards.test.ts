import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { connectClient, getJson, postRaw, rawRequest } from '../helpers/client.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../helpers/upstreams.js';

describe('pipeline guards', () => {
  let upstream: RunningHttpUpstream;
  let gw: TestGateway;
  let mcp: string;
  before(async () => {
    upstream = await startHttpUpstream({ stateful: false, json: true });
    gw = await startGateway({
      upstreams: { test: { url: upstream.url } },
      http: { maxBodyBytes: 4096, allowedOrigins: ['http://localhost:6274'] },
      rateLimit: { perIp: false },
    });
    mcp = `${gw.url}/mcp/test`;
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  /** After each attack the gateway must still serve a real client. */
  async function stillServes(): Promise<void> {
    const { client } = await connectClient(mcp);
    assert.ok((await client.listTools()).tools.length > 0);
    await client.close();
  }

  test('413 for a body over http.maxBodyBytes, by Content-Length and by streamed size', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x'.repeat(5000) } } });
    const declared = await postRaw(mcp, big);
    assert.equal(declared.status, 413);
    assert.equal(declared.json.error.data.error, 'payload_too_large');
    assert.match(declared.json.error.message, /4096 bytes \(http\.maxBodyBytes\)/);
    // Chunked upload without Content-Length: refused once the limit is crossed.
    const chunked = await fetch(mcp, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode(' '.repeat(1000)));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    assert.equal(chunked.status, 413);
    assert.ok(!upstream.seen.some((r) => JSON.stringify(r.body ?? '').includes('xxxxxxxx')), 'nothing of it reached the upstream');
    await stillServes();
  });

  test('400 parse error for malformed JSON, 400 invalid request for malformed JSON-RPC', async () => {
    for (const body of ['{"jsonrpc": "2.0", "id": 1,', 'not json at all', '\u0000\u0001']) {
      const r = await postRaw(mcp, body);
      assert.equal(r.status, 400, body);
      assert.equal(r.json.error.code, -32700);
      assert.equal(r.json.id, null);
    }
    for (const body of ['{}', '[]', '42', '"text"', '{"jsonrpc":"1.0","id":1,"method":"x"}', '{"jsonrpc":"2.0","id":{"a":1},"method":"x"}', '[{"jsonrpc":"2.0","id":1,"method":"ping"}, 7]']) {
      const r = await postRaw(mcp, body);
      assert.equal(r.status, 400, body);
      assert.equal(r.json.error.code, -32600, body);
    }
    await stillServes();
  });

  test('415 for a POST that is not JSON', async () => {
    const r = await postRaw(mcp, 'a=b', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(r.status, 415);
  });

  test('403 for a foreign Origin; an allowed Origin works and gets CORS headers and a preflight', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    for (const origin of ['http://evil.example', 'null', 'http://localhost:6275', 'https://localhost:6274']) {
      const r = await postRaw(mcp, body, { origin });
      assert.equal(r.status, 403, origin);
      assert.equal(r.json.error.data.error, 'forbidden_origin');
    }
    const ok = await postRaw(mcp, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }), { origin: 'http://localhost:6274' });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('access-control-allow-origin'), 'http://localhost:6274');
    const malformed = await postRaw(mcp, '{"jsonrpc":', { origin: 'http://localhost:6274' });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.headers.get('access-control-allow-origin'), 'http://localhost:6274', 'a browser client can read why it was refused');
    const self = await postRaw(mcp, body, { origin: gw.url });
    assert.equal(self.status, 200, "the gateway's own origin is allowed");
    const preflight = await rawRequest(gw.url, '/mcp/test', { method: 'OPTIONS', headers: { origin: 'http://localhost:6274', 'access-control-request-method': 'POST' } });
    assert.equal(preflight.status, 204);
    assert.match(String(preflight.headers['access-control-allow-headers']), /mcp-session-id/);
    const badPreflight = await rawRequest(gw.url, '/mcp/test', { method: 'OPTIONS', headers: { origin: 'http://evil.example' } });
    assert.equal(badPreflight.status, 403);
  });

  test('403 for a Host that is not this loopback gateway (DNS rebinding)', async () => {
    const port = new URL(gw.url).port;
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const evil = await rawRequest(gw.url, '/mcp/test', { method: 'POST', headers: { ...headers, host: `attacker.example:${port}` }, body });
    assert.equal(evil.status, 403);
    assert.equal(evil.json.error.data.error, 'forbidden_host');
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`]) {
      const ok = await rawRequest(gw.url, '/mcp/test', { method: 'POST', headers: { ...headers, host }, body });
      assert.equal(ok.status, 200, host);
    }
  });

  test('path tricks are refused, unknown paths are 404, other methods 405', async () => {
    for (const path of ['/mcp/../healthz', '/mcp/test/..', '/mcp/%2e%2e/test', '/mcp%2ftest', '//mcp/test', '/mcp/./test', '/mcp\\test', '/mcp/te%73t',
      '/.well-known/../mcp/test', '/.well-known/./jwks.json', '/.well-known//x', '/.well-known/.well-known/x', '/.well-known/%2e%2e/mcp/test', '/.x/mcp/test']) {
      const r = await rawRequest(gw.url, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      assert.equal(r.status, 400, path);
      assert.equal(r.json.error.data.error, 'bad_path', path);
    }
    // Without authentication nothing is protected: no RFC 9728 metadata, no identity keys.
    for (const path of ['/.well-known/oauth-protected-resource/mcp/test', '/.well-known/jwks.json']) assert.equal((await rawRequest(gw.url, path)).status, 404, path);
    const unknown = await rawRequest(gw.url, '/mcp/other');
    assert.equal(unknown.status, 404);
    assert.match(unknown.json.error.message, /\/mcp\/test/);
    const put = await rawRequest(gw.url, '/mcp/test', { method: 'PUT' });
    assert.equal(put.status, 405);
    assert.equal(put.headers.allow, 'GET, POST, DELETE');
    assert.equal(upstream.seen.filter((r) => r.method === 'PUT').length, 0);
  });

  test('/mcp serves the only upstream; /healthz and /readyz answer', async () => {
    const r = await postRaw(`${gw.url}/mcp`, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    assert.equal(r.status, 200);
    assert.deepEqual(await getJson(`${gw.url}/healthz`), { status: 'ok' });
    const ready = await getJson(`${gw.url}/readyz`);
    assert.equal(ready.status, 'ready');
    assert.equal(ready.upstreams.test.kind, 'http');
  });

  test('every error answer carries a request id, echoed when the caller sent a sane one', async () => {
    const r = await postRaw(mcp, 'nope', { 'x-request-id': 'trace-123' });
    assert.equal(r.headers.get('x-request-id'), 'trace-123');
    const odd = await postRaw(mcp, 'nope', { 'x-request-id': 'bad id with spaces' });
    assert.match(odd.headers.get('x-request-id')!, /^[0-9a-f-]{36}$/);
  });
});

describe('rate limit per client IP', () => {
  test('429 with Retry-After past the burst, and the limiter forgets nobody else', async () => {
    const upstream = await startHttpUpstream({ stateful: false, json: true });
    const gw = await startGateway({ upstreams: { test: { url: upstream.url } }, rateLimit: { perIp: { requestsPerSecond: 1, burst: 3 } } });
    try {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
      const statuses: number[] = [];
      let limited;
      for (let i = 0; i < 5; i++) {
        const r = await postRaw(`${gw.url}/mcp/test`, body);
        statuses.push(r.status);
        if (r.status === 429) limited = r;
      }
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
      assert.equal(limited!.json.error.data.error, 'rate_limited');
      assert.ok(Number(limited!.headers.get('retry-after')) >= 1);
      const upstreamCalls = upstream.seen.filter((r) => r.method === 'POST').length;
      assert.equal(upstreamCalls, 3, 'limited requests never reach the upstream');
      assert.equal((await fetch(`${gw.url}/healthz`)).status, 200, 'health checks are not rate limited');
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});
