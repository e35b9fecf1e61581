import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { configSchema, type ConfigInput } from '../../src/config/index.js';
import { startGateway as start, type RunningGateway } from '../../src/gateway/index.js';
import { createLogger } from '../../src/shared/log.js';
import { LogCapture, MemoryAudit } from '../helpers/gateway.js';
import { recordAtExit } from '../helpers/secret-sweep.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../helpers/upstreams.js';
import { whoamiStdioCommand } from '../helpers/identity-upstream.js';
import { connectClient, postRaw, rawRequest } from '../helpers/client.js';
import { bearer } from '../helpers/keys.js';
import { sharedTestStore } from '../helpers/postgres.js';
import { deleteKeys, RedisProxy, REDIS_URL, testPrefix } from '../helpers/redis.js';

/** A gateway on the shared store, reaching Redis at the URL it names, as each of several instances would run. */
async function instance(input: Partial<ConfigInput> & Pick<ConfigInput, 'upstreams'>, store: { postgres: string; redis: string }, name: string) {
  const config = configSchema.parse({ listen: { host: '127.0.0.1', port: 0 }, log: { level: 'debug' }, audit: { instance: name }, auth: { apiKeys: {} }, ...input, store });
  const logs = new LogCapture();
  const audit = new MemoryAudit();
  const gateway = await start(config, { log: createLogger({ level: 'debug', destination: logs }), audit });
  recordAtExit('gateway log', () => logs.text);
  recordAtExit('audit records', () => audit.records.map((r) => JSON.stringify(r)).join('\n'));
  return { gateway, logs, audit, url: gateway.url };
}

const LIST = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list' });
const sessionHeaders = (id: string) => ({ 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' });

describe('sessions across gateway instances (real Redis)', () => {
  let upstream: RunningHttpUpstream;
  let proxy: RedisProxy;
  let a: { gateway: RunningGateway; url: string; audit: MemoryAudit };
  let b: { gateway: RunningGateway; url: string; audit: MemoryAudit };
  let alice: { id: string; key: string };
  let bob: { id: string; key: string };
  let shared: Awaited<ReturnType<typeof sharedTestStore>>;
  const prefix = testPrefix();

  before(async () => {
    upstream = await startHttpUpstream({ stateful: true, json: false });
    proxy = await RedisProxy.start();
    shared = await sharedTestStore();
    alice = await shared.createKey({ subject: 'alice', scopes: ['use'] });
    bob = await shared.createKey({ subject: 'bob', scopes: ['use'] });
    const input = {
      authorization: { scopes: { use: { tools: ['echo', 'whoami'] } } },
      rateLimit: { perIp: false as const },
      redis: { keyPrefix: prefix, pollInterval: 50, staleAfter: 400, commandTimeout: 300 },
      upstreams: { web: { url: upstream.url }, kids: { command: whoamiStdioCommand(), env: ['PATH'] } },
    };
    a = await instance(input, shared.store(REDIS_URL), 'gw-a');
    // B reaches Redis through a proxy the test can cut.
    b = await instance(input, shared.store(proxy.url), 'gw-b');
  });

  after(async () => {
    await a.gateway.close();
    await b.gateway.close();
    await upstream.close();
    await proxy.stop();
    await deleteKeys(prefix);
    await shared?.drop();
  });

  test('HTTP upstream: a session opened through A continues through B (a real SDK client); another principal is refused on B', async () => {
    const opened = await connectClient(`${a.url}/mcp/web`, bearer(alice.key));
    const sessionId = opened.transport.sessionId!;
    assert.ok(sessionId);
    // The same session, continued through instance B: the SDK client reconnects with the session id and does not initialize.
    const client = new Client({ name: 'continued', version: '1' });
    const transport = new StreamableHTTPClientTransport(new URL(`${b.url}/mcp/web`), { sessionId, requestInit: { headers: bearer(alice.key) } });
    await client.connect(transport);
    const result = await client.callTool({ name: 'echo', arguments: { text: 'via B' } });
    assert.match(JSON.stringify(result), /via B/);
    assert.ok(upstream.seen.some((s) => s.headers['mcp-session-id'] === sessionId && s.method === 'POST'), 'the upstream got the session it issued');

    // Attack: Bob presents Alice's session id on B (which adopted it) and on A. Control: Alice's own call above.
    for (const gw of [b, a]) {
      const stolen = await postRaw(`${gw.url}/mcp/web`, LIST, { ...bearer(bob.key), ...sessionHeaders(sessionId) });
      assert.equal(stolen.status, 404);
      assert.equal(stolen.json.error.data.error, 'session_not_found');
    }
    const unknown = await postRaw(`${b.url}/mcp/web`, LIST, { ...bearer(alice.key), ...sessionHeaders('no-such-session') });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.error.data.error, 'session_not_found');
    const refused = b.audit.records.find((r) => r.subject === 'bob' && r.decision === 'deny');
    assert.match(String(refused?.reason), /another principal/);
    await client.close();
    await opened.client.close();
  });

  test('stdio upstream: the child lives on A, so B answers session_on_other_instance naming A; to another principal it is just not found', async () => {
    const opened = await connectClient(`${a.url}/mcp/kids`, bearer(alice.key));
    const sessionId = opened.transport.sessionId!;
    const elsewhere = await postRaw(`${b.url}/mcp/kids`, LIST, { ...bearer(alice.key), ...sessionHeaders(sessionId) });
    assert.equal(elsewhere.status, 404);
    assert.equal(elsewhere.json.error.data.error, 'session_on_other_instance');
    assert.match(elsewhere.json.error.message, /instance 'gw-a'/);
    assert.match(elsewhere.json.error.message, /docs\/scaling\.md/);
    const stolen = await postRaw(`${b.url}/mcp/kids`, LIST, { ...bearer(bob.key), ...sessionHeaders(sessionId) });
    assert.equal(stolen.status, 404);
    assert.equal(stolen.json.error.data.error, 'session_not_found');
    assert.doesNotMatch(stolen.text, /gw-a/);
    // Control: on A, where its child runs, the session answers.
    assert.ok((await opened.client.listTools()).tools.length > 0);
    // Ended on A: B no longer says it lives there.
    await opened.transport.terminateSession();
    await new Promise((r) => setTimeout(r, 100));
    const ended = await postRaw(`${b.url}/mcp/kids`, LIST, { ...bearer(alice.key), ...sessionHeaders(sessionId) });
    assert.equal(ended.json.error.data.error, 'session_not_found');
    await opened.client.close();
  });

  test("Redis unreachable from B: a session B cannot check gets 503 shared_state_unavailable and /readyz is 503; B's own sessions go on; all recovers", async () => {
    const fromA = await connectClient(`${a.url}/mcp/web`, bearer(alice.key));
    const own = await connectClient(`${b.url}/mcp/web`, bearer(alice.key));
    await proxy.stop();
    const cut = performance.now();
    const answer = await postRaw(`${b.url}/mcp/web`, LIST, { ...bearer(alice.key), ...sessionHeaders(fromA.transport.sessionId!) });
    assert.ok(performance.now() - cut < 1_000, 'answered quickly');
    assert.equal(answer.status, 503);
    assert.equal(answer.json.error.data.error, 'shared_state_unavailable');
    assert.ok((await own.client.listTools()).tools.length > 0, "B's own session does not need Redis");
    await new Promise((r) => setTimeout(r, 600)); // past redis.staleAfter
    const ready = await rawRequest(b.url, '/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.json.status, 'shared_state_unavailable');
    assert.equal(ready.json.shared.changes.healthy, false);
    assert.equal((await rawRequest(a.url, '/readyz')).status, 200, 'control: A reaches Redis and is ready');
    await proxy.start();
    const back = performance.now();
    let status = 0;
    while (performance.now() - back < 6_000 && (status = (await rawRequest(b.url, '/readyz')).status) !== 200) await new Promise((r) => setTimeout(r, 100));
    assert.equal(status, 200);
    const again = await postRaw(`${b.url}/mcp/web`, LIST, { ...bearer(alice.key), ...sessionHeaders(fromA.transport.sessionId!) });
    assert.equal(again.status, 200);
    await fromA.client.close();
    await own.client.close();
  });
});
