import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../helpers/upstreams.js';
import { postRaw } from '../helpers/client.js';
import { bearer, createKey, keyedSetup } from '../helpers/keys.js';

/**
 * Issue 13's weaker findings on the MCP endpoint, each by name: what the gateway used to answer with a 500,
 * decide on one value while forwarding another, or record without bound. Every test also shows that the
 * gateway goes on serving the next legitimate request.
 */

/** Sends raw bytes on a fresh connection and returns the status line's code. */
function rawStatus(port: number, request: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let received = '';
    socket.on('data', (d) => {
      received += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(received);
      if (m) {
        socket.destroy();
        resolve(Number(m[1]));
      }
    });
    socket.on('error', reject);
    socket.write(request);
  });
}

describe('attack: protocol abuse on the MCP endpoint', () => {
  let upstream: RunningHttpUpstream;
  let gw: TestGateway;
  let key: string;
  let endpoint: string;
  const call = (body: unknown, headers: Record<string, string> = {}) => postRaw(endpoint, typeof body === 'string' ? body : JSON.stringify(body), { ...bearer(key), ...headers });
  const echo = (text: string, id: number | string = 1) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { text } } });
  const stillServes = async () => {
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
    const res = await call(echo('next'));
    assert.equal(res.json?.result?.content?.[0]?.text, 'next', 'the next legitimate call is served');
  };
  const newRecords = (since: number) => gw.audit.records.slice(since);

  before(async () => {
    upstream = await startHttpUpstream({ stateful: false, json: true });
    const setup = keyedSetup('warden-abuse-');
    key = (await createKey(setup.dbPath, { subject: 'mallory', scopes: ['web:use'] })).key;
    gw = await startGateway({
      ...setup.config,
      authorization: { scopes: { 'web:use': { tools: ['echo', 'secret_tool'] } } },
      rateLimit: { perIp: false, failedAuthPerIp: false },
      metrics: { token: 'a-scrape-token-of-some-length' },
      upstreams: { web: { url: upstream.url, allow: { tools: ['echo'] } } },
    }, [key]);
    endpoint = `${gw.url}/mcp/web`;
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('a 200,000-deep nested body: 400 parse_error, no recursion, nothing forwarded', async () => {
    const seen = upstream.seen.length;
    const deep = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"x":${'['.repeat(200_000)}${']'.repeat(200_000)}}}}`;
    const res = await call(deep);
    assert.equal(res.status, 400);
    assert.equal(res.json.error.data.error, 'parse_error');
    assert.match(res.json.error.message, /deeper than 64 levels \(http\.maxJsonDepth\)/);
    const inString = await call(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"${'['.repeat(1000)}"}}}`);
    assert.equal(inString.json.result.content[0].text, '['.repeat(1000), 'brackets inside strings are text, not nesting');
    assert.equal(upstream.seen.length, seen + 1);
    await stillServes();
  });

  test('duplicate keys: the gateway forwards what it decided on, never the bytes that say otherwise', async () => {
    // JSON.parse keeps the last "name"; an upstream with another parser might keep the first.
    const sneaky = '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"secret_tool","name":"echo","arguments":{"text":"dup"}}}';
    const res = await call(sneaky);
    assert.equal(res.json.result.content[0].text, 'dup');
    const forwarded = upstream.seen.at(-1)!.body as { params: { name: string } };
    assert.equal(forwarded.params.name, 'echo');
    assert.equal(JSON.stringify(upstream.seen.at(-1)!.body).includes('secret_tool'), false, 'the other value never reached the upstream');
    const before = gw.audit.records.length;
    const reversed = await call('{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"echo","name":"secret_tool"}}');
    assert.equal(reversed.status, 403, 'decided on secret_tool, which the allow-list refuses');
    assert.equal(newRecords(before)[0]!.target, 'secret_tool');
    await stillServes();
  });

  test('a second Authorization header: 400 duplicate_credential, audited, nothing forwarded', async () => {
    const seen = upstream.seen.length;
    const before = gw.audit.records.length;
    const body = JSON.stringify(echo('two'));
    const status = await rawStatus(Number(new URL(gw.url).port), [
      'POST /mcp/web HTTP/1.1', 'Host: 127.0.0.1', 'Content-Type: application/json', 'Accept: application/json, text/event-stream',
      `Authorization: Bearer ${key}`, 'Authorization: Bearer wdn_someone_elses', `Content-Length: ${body.length}`, '', body,
    ].join('\r\n'));
    assert.equal(status, 400);
    assert.equal(upstream.seen.length, seen);
    const record = newRecords(before).find((r) => r.decision === 'deny');
    assert.ok(record);
    assert.match(record.reason, /authentication failed: invalid_request/);
    await stillServes();
  });

  test('a batch of 20,000 pings: refused with 400 (http.maxBatch), and no batch of pings grows the audit chain', async () => {
    const before = gw.audit.records.length;
    const pings = (n: number) => Array.from({ length: n }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'ping' }));
    const huge = await call(pings(20_000));
    assert.equal(huge.status, 400);
    assert.match(huge.json.error.message, /at most 32 messages \(http\.maxBatch\); this one holds 20000/);
    const ok = await call(pings(32));
    assert.equal(ok.status, 200);
    assert.equal(ok.json.length, 32);
    assert.equal(newRecords(before).length, 0, 'pings name nothing and get no record');
    const lists = await call([1, 2, 3].map((id) => ({ jsonrpc: '2.0', id, method: 'tools/list' })));
    assert.equal(lists.json.length, 3);
    assert.equal(newRecords(before).filter((r) => r.event === 'call').length, 3, 'one record per request that reached a decision');
    await stillServes();
  });

  test('a tools/call without an id (shaped as a notification): refused with 400 and audited, never forwarded undecided', async () => {
    const seen = upstream.seen.length;
    const before = gw.audit.records.length;
    const res = await call({ jsonrpc: '2.0', method: 'tools/call', params: { name: 'secret_tool' } });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.data.error, 'invalid_request');
    assert.equal(upstream.seen.length, seen);
    const record = newRecords(before).find((r) => r.method === 'tools/call');
    assert.ok(record);
    assert.equal(record.decision, 'deny');
    assert.match(record.reason, /without an id/);
    const notification = await call({ jsonrpc: '2.0', method: 'notifications/initialized' });
    assert.equal(notification.status, 202, 'real notifications still pass');
    await stillServes();
  });

  test('malformed JSON-RPC and oversized bodies: 400 and 413, never 500', async () => {
    for (const body of ['{', '[]', '{"jsonrpc":"1.0","id":1,"method":"x"}', '{"jsonrpc":"2.0","id":{},"method":"x"}', 'null', '"str"', '[1,2]', '\u0000']) {
      const res = await call(body);
      assert.equal(res.status, 400, body);
    }
    const big = await call(JSON.stringify(echo('x'.repeat(1_100_000))));
    assert.equal(big.status, 413);
    await stillServes();
  });

  test('/readyz: ready or not for anyone; what is behind it only for this machine, never past the Host check', async () => {
    const local = await (await fetch(`${gw.url}/readyz`)).json() as Record<string, unknown>;
    assert.equal(local.status, 'ready');
    assert.ok(local.upstreams, 'details for a loopback client');
    const proxied = await (await fetch(`${gw.url}/readyz`, { headers: { 'x-forwarded-for': '203.0.113.9' } })).json() as Record<string, unknown>;
    assert.deepEqual(proxied, { status: 'ready' }, 'a request through a proxy on this machine is not local');
    assert.equal(JSON.stringify(proxied).includes(upstream.url), false);
    const port = Number(new URL(gw.url).port);
    assert.equal(await rawStatus(port, 'GET /readyz HTTP/1.1\r\nHost: attacker.example\r\n\r\n'), 403, 'DNS rebinding: a foreign Host is refused');
  });

  test('/metrics: this machine, or a scraper with metrics.token; nobody else', async () => {
    assert.equal((await fetch(`${gw.url}/metrics`)).status, 200);
    const remote = { 'x-forwarded-for': '203.0.113.9' };
    const refused = await fetch(`${gw.url}/metrics`, { headers: remote });
    assert.equal(refused.status, 403);
    assert.equal((await fetch(`${gw.url}/metrics`, { headers: { ...remote, authorization: 'Bearer not-the-token-at-all' } })).status, 403);
    assert.equal((await fetch(`${gw.url}/metrics`, { headers: { ...remote, authorization: 'Bearer a-scrape-token-of-some-length' } })).status, 200);
    assert.equal((await fetch(`${gw.url}/metrics`, { headers: { ...remote, authorization: `Bearer ${key}` } })).status, 403, 'an API key is not the scrape token');
  });
});
