import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { connectModernClient, modernStdioCommand, startModernUpstream, type RunningModernUpstream } from '../helpers/modern.js';
import { notesServerCommand, startHttpUpstream, type RunningHttpUpstream } from '../helpers/upstreams.js';
import { connectClient, mcpBody, postRaw } from '../helpers/client.js';
import { createKey, keyedSetup } from '../helpers/keys.js';
import { OAUTH_AUTHORIZATION, startOAuthGateway } from '../helpers/oauth.js';
import { obtainTokens } from '../helpers/oauth-flow.js';

/**
 * Both protocol eras through the gateway (issue 14), with real SDK parts on both sides: SDK 2.x
 * (2026-07-28, and 2025-11-25 by fallback) and SDK 1.x (2025-11-25) clients and servers over HTTP.
 */

const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};
const MODERN_HEADERS = { 'mcp-protocol-version': '2026-07-28' };

function modernCall(id: number, method: string, params: Record<string, unknown> = {}): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method, params: { ...params, _meta: META } });
}

describe('protocol eras over HTTP upstreams', () => {
  let modern: RunningModernUpstream;
  let legacy: RunningHttpUpstream;
  let gw: TestGateway;

  before(async () => {
    modern = await startModernUpstream();
    legacy = await startHttpUpstream({ stateful: true, json: false });
    gw = await startGateway({
      upstreams: {
        modern: { url: modern.url, allow: { tools: ['echo'], resources: ['test://*'] } },
        legacy: { url: legacy.url, allow: { tools: ['echo'] } },
      },
      http: { allowedOrigins: ['http://app.example'] },
    });
  });
  after(async () => {
    await gw.close();
    await modern.close();
    await legacy.close();
  });

  test('2026-07-28 client → gateway → 2026-07-28 server: discovery, a filtered list marked private, a call; the standard headers reach the server', async () => {
    const client = await connectModernClient(`${gw.url}/mcp/modern`);
    try {
      const seenBefore = modern.seen.length;
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name), ['echo'], 'secret_tool is filtered out');
      const result = await client.callTool({ name: 'echo', arguments: { text: 'modern' } });
      assert.deepEqual(result.content, [{ type: 'text', text: 'modern' }]);
      const calls = modern.seen.slice(seenBefore);
      const call = calls.find((s) => s.body?.method === 'tools/call')!;
      assert.equal(call.headers['mcp-method'], 'tools/call');
      assert.equal(call.headers['mcp-name'], 'echo');
      assert.equal(call.headers['mcp-protocol-version'], '2026-07-28');
      assert.equal(call.headers['mcp-session-id'], undefined, 'no sessions in this era');
    } finally {
      await client.close();
    }
    const raw = await postRaw(`${gw.url}/mcp/modern`, modernCall(3, 'tools/list'), { ...MODERN_HEADERS, 'mcp-method': 'tools/list' });
    const body = raw.json ?? mcpBody(raw.text);
    assert.equal(body.result.cacheScope, 'private', 'a per-caller list must not be cached for others');
    assert.deepEqual(body.result.tools.map((t: { name: string }) => t.name), ['echo']);
  });

  test('2025-11-25 client (SDK 1.x) → gateway → 2026-07-28 server: the server serves the old era, the gateway stays transparent', async () => {
    const { client } = await connectClient(`${gw.url}/mcp/modern`);
    try {
      assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ['echo']);
      const result = await client.callTool({ name: 'echo', arguments: { text: 'old client' } });
      assert.deepEqual(result.content, [{ type: 'text', text: 'old client' }]);
    } finally {
      await client.close();
    }
  });

  test('2026-07-28 client (auto) → gateway → 2025-11-25 server (SDK 1.x): the client falls back to initialize and a session', async () => {
    const client = await connectModernClient(`${gw.url}/mcp/legacy`);
    try {
      assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ['echo']);
      const result = await client.callTool({ name: 'echo', arguments: { text: 'new client' } });
      assert.deepEqual(result.content, [{ type: 'text', text: 'new client' }]);
      assert.ok(legacy.seen.some((s) => (s.body as { method?: string } | undefined)?.method === 'initialize'), 'the legacy handshake happened');
    } finally {
      await client.close();
    }
  });

  test('a standard header that disagrees with the body: 400 HeaderMismatch (-32020), audited, nothing forwarded', async () => {
    const cases: [string, Record<string, string>, RegExp][] = [
      ['Mcp-Name names another tool', { ...MODERN_HEADERS, 'mcp-method': 'tools/call', 'mcp-name': 'secret_tool' }, /Mcp-Name 'secret_tool' does not match the body's 'echo'/],
      ['Mcp-Method names another method', { ...MODERN_HEADERS, 'mcp-method': 'tools/list', 'mcp-name': 'echo' }, /Mcp-Method 'tools\/list' does not match/],
      ['Mcp-Name is missing', { ...MODERN_HEADERS, 'mcp-method': 'tools/call' }, /Mcp-Name header is missing/],
      ['Mcp-Method is missing', { ...MODERN_HEADERS, 'mcp-name': 'echo' }, /Mcp-Method header is missing/],
      ['MCP-Protocol-Version is missing', { 'mcp-method': 'tools/call', 'mcp-name': 'echo' }, /MCP-Protocol-Version header is missing/],
      ['MCP-Protocol-Version disagrees', { 'mcp-protocol-version': '2026-08-01', 'mcp-method': 'tools/call', 'mcp-name': 'echo' }, /MCP-Protocol-Version '2026-08-01' does not match/],
      ['a malformed Base64 Mcp-Name', { ...MODERN_HEADERS, 'mcp-method': 'tools/call', 'mcp-name': '=?base64?!!!?=' }, /malformed/],
    ];
    for (const [name, headers, message] of cases) {
      const seen = modern.seen.length;
      const records = gw.audit.records.length;
      const res = await postRaw(`${gw.url}/mcp/modern`, modernCall(9, 'tools/call', { name: 'echo', arguments: { text: 'x' } }), headers);
      assert.equal(res.status, 400, name);
      assert.equal(res.json.error.code, -32020, name);
      assert.equal(res.json.error.data.error, 'header_mismatch', name);
      assert.match(res.json.error.message, message, name);
      assert.equal(modern.seen.length, seen, `${name}: nothing reached the server`);
      const record = gw.audit.records.slice(records).find((r) => r.decision === 'deny');
      assert.ok(record, `${name}: audited`);
      assert.match(record.reason, /^standard headers: /);
    }
    const encoded = await postRaw(`${gw.url}/mcp/modern`, modernCall(10, 'tools/call', { name: 'echo', arguments: { text: 'b64' } }),
      { ...MODERN_HEADERS, 'mcp-method': 'tools/call', 'mcp-name': `=?base64?${Buffer.from('echo').toString('base64')}?=` });
    assert.equal((encoded.json ?? mcpBody(encoded.text)).result.content[0].text, 'b64', 'a Base64-encoded Mcp-Name that agrees is accepted');
  });

  test('a modern header without the _meta claim is invalid params; a modern batch is refused', async () => {
    const noClaim = await postRaw(`${gw.url}/mcp/modern`, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }), { ...MODERN_HEADERS, 'mcp-method': 'tools/list' });
    assert.equal(noClaim.status, 400);
    assert.equal(noClaim.json.error.data.error, 'invalid_params');
    const batch = await postRaw(`${gw.url}/mcp/modern`, `[${modernCall(1, 'tools/list')},${modernCall(2, 'tools/list')}]`, { ...MODERN_HEADERS, 'mcp-method': 'tools/list' });
    assert.equal(batch.status, 400);
  });

  test('a resource URI the gateway normalised is forwarded with an Mcp-Name that agrees with it', async () => {
    const res = await postRaw(`${gw.url}/mcp/modern`, modernCall(4, 'resources/read', { uri: 'TEST://readme' }),
      { ...MODERN_HEADERS, 'mcp-method': 'resources/read', 'mcp-name': 'TEST://readme' });
    const body = res.json ?? mcpBody(res.text);
    assert.equal(body.result.contents[0].text, 'read me');
    assert.equal(body.result.cacheScope, 'private');
    const forwarded = modern.seen.at(-1)!;
    assert.equal(forwarded.body.params.uri, 'test://readme');
    assert.equal(forwarded.headers['mcp-name'], 'test://readme');
  });

  test('Mcp-Param-* headers reach the server unchanged; a caller session id on a modern request is not forwarded', async () => {
    await postRaw(`${gw.url}/mcp/modern`, modernCall(5, 'tools/call', { name: 'echo', arguments: { text: 'p' } }),
      { ...MODERN_HEADERS, 'mcp-method': 'tools/call', 'mcp-name': 'echo', 'mcp-param-region': 'us-west1', 'mcp-session-id': 'stale' });
    const forwarded = modern.seen.at(-1)!;
    assert.equal(forwarded.headers['mcp-param-region'], 'us-west1');
    assert.equal(forwarded.headers['mcp-session-id'], undefined);
  });

  test('CORS preflight allows the standard headers and the Mcp-Param-* headers a page asks for', async () => {
    const res = await fetch(`${gw.url}/mcp/modern`, {
      method: 'OPTIONS',
      headers: { origin: 'http://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'mcp-method, mcp-name, mcp-param-region, x-evil' },
    });
    assert.equal(res.status, 204);
    const allowed = (res.headers.get('access-control-allow-headers') ?? '').split(', ');
    for (const h of ['mcp-method', 'mcp-name', 'mcp-param-region', 'mcp-protocol-version']) assert.ok(allowed.includes(h), h);
    assert.equal(allowed.includes('x-evil'), false);
  });
});

describe('2026-07-28 multi round-trip state is bound to the caller that received it', () => {
  let modern: RunningModernUpstream;
  let gw: TestGateway;
  let alice: string;
  let bob: string;
  const ask = (key: string, requestState?: string, tool = 'ask') => postRaw(`${gw.url}/mcp/modern`,
    modernCall(1, 'tools/call', { name: tool, arguments: tool === 'echo' ? { text: 'x' } : {}, ...(requestState ? { requestState } : {}) }),
    { ...MODERN_HEADERS, 'mcp-method': 'tools/call', 'mcp-name': tool, authorization: `Bearer ${key}` });
  const result = (res: Awaited<ReturnType<typeof postRaw>>) => (res.json ?? mcpBody(res.text)).result;

  before(async () => {
    modern = await startModernUpstream();
    const setup = keyedSetup('warden-mrtr-');
    alice = (await createKey(setup.dbPath, { subject: 'alice', scopes: ['use'] })).key;
    bob = (await createKey(setup.dbPath, { subject: 'bob', scopes: ['use'] })).key;
    gw = await startGateway({
      ...setup.config,
      authorization: { scopes: { use: { tools: ['ask', 'echo'] } } },
      upstreams: { modern: { url: modern.url } },
    }, [alice, bob]);
  });
  after(async () => {
    await gw.close();
    await modern.close();
  });

  test('the same caller retrying gets through, and the server gets its own state back', async () => {
    const first = result(await ask(alice));
    assert.equal(first.resultType, 'input_required');
    assert.match(first.requestState, /^wrs1\./, 'the caller holds the gateway-sealed state');
    assert.notEqual(first.requestState, 'server-state-42');
    const second = result(await ask(alice, first.requestState));
    assert.deepEqual(second.content, [{ type: 'text', text: 'got server-state-42' }]);
  });

  test('server/discover advertises only the kinds of things the caller may use', async () => {
    const direct = await postRaw(modern.url, modernCall(1, 'server/discover'), { ...MODERN_HEADERS, 'mcp-method': 'server/discover' });
    assert.ok(result(direct).capabilities.resources, 'the server itself has resources');
    const res = await postRaw(`${gw.url}/mcp/modern`, modernCall(1, 'server/discover'), { ...MODERN_HEADERS, 'mcp-method': 'server/discover', authorization: `Bearer ${alice}` });
    const capabilities = result(res).capabilities;
    assert.ok(capabilities.tools, 'the scope opens tools');
    assert.equal(capabilities.resources, undefined, 'no scope of the caller opens a resource');
  });

  test('another caller, an altered state, another tool, or a state the gateway never sealed: 400, audited, nothing forwarded', async () => {
    const sealed = result(await ask(alice)).requestState as string;
    const cases: [string, () => ReturnType<typeof ask>, RegExp][] = [
      ['another caller', () => ask(bob, sealed), /issued to another caller/],
      ['an altered state', () => ask(alice, `${sealed.slice(0, -2)}xx`), /altered/],
      ['another tool', () => ask(alice, sealed, 'echo'), /another target/],
      ['a server state presented raw', () => ask(alice, 'server-state-42'), /not issued through this gateway/],
    ];
    for (const [name, attempt, why] of cases) {
      const seen = modern.seen.length;
      const records = gw.audit.records.length;
      const res = await attempt();
      assert.equal(res.status, 400, name);
      assert.equal(res.json.error.data.error, 'invalid_params', name);
      assert.match(res.json.error.message, why, name);
      assert.equal(modern.seen.length, seen, `${name}: nothing reached the server`);
      assert.ok(gw.audit.records.slice(records).some((r) => r.decision === 'deny' && /^requestState refused/.test(r.reason)), `${name}: audited`);
    }
    assert.deepEqual(result(await ask(alice, sealed)).content, [{ type: 'text', text: 'got server-state-42' }], 'the rightful retry still works');
  });
});

describe('a 2026-07-28 client pinned to that revision, in front of a 2025-11-25 server', () => {
  test('fails with an error that names the era, and a negotiating client still falls back', async () => {
    const legacy = await startHttpUpstream({ stateful: true, json: false });
    const gw = await startGateway({ upstreams: { legacy: { url: legacy.url } } });
    try {
      const res = await postRaw(`${gw.url}/mcp/legacy`, modernCall(1, 'tools/list'), { ...MODERN_HEADERS, 'mcp-method': 'tools/list' });
      assert.equal(res.status, 400);
      assert.equal(res.json.error.data.error, 'unsupported_era');
      assert.match(res.json.error.message, /does not speak MCP 2026-07-28 .* falls back to initialize/);
      await assert.rejects(connectModernClient(`${gw.url}/mcp/legacy`, {}, 'pin'));
      const negotiating = await connectModernClient(`${gw.url}/mcp/legacy`);
      assert.ok((await negotiating.listTools()).tools.length > 0);
      await negotiating.close();
    } finally {
      await gw.close();
      await legacy.close();
    }
  });
});

describe('protocol eras over stdio upstreams', () => {
  let gw: TestGateway;
  let alice: string;
  let bob: string;
  const call = (upstream: string, key: string, id: number, method: string, params: Record<string, unknown> = {}) => {
    const name: Record<string, string> = typeof params.name === 'string' ? { 'mcp-name': params.name } : {};
    return postRaw(`${gw.url}/mcp/${upstream}`, modernCall(id, method, params), { ...MODERN_HEADERS, 'mcp-method': method, ...name, authorization: `Bearer ${key}` });
  };
  const result = (res: Awaited<ReturnType<typeof postRaw>>) => (res.json ?? mcpBody(res.text)).result;

  before(async () => {
    const setup = keyedSetup('warden-stdio-eras-');
    alice = (await createKey(setup.dbPath, { subject: 'alice', scopes: ['use'] })).key;
    bob = (await createKey(setup.dbPath, { subject: 'bob', scopes: ['use'] })).key;
    gw = await startGateway({
      ...setup.config,
      authorization: { scopes: { use: { tools: ['echo', 'pid'] } } },
      rateLimit: { perIp: false },
      upstreams: { modern: { command: modernStdioCommand(), env: ['PATH', 'HOME'] } },
    }, [alice, bob]);
  });
  after(async () => {
    await gw.close();
  });

  test('2026-07-28 requests without a session: answered by a child of the caller\'s own, lists filtered and private, no session named', async () => {
    const list = await call('modern', alice, 1, 'tools/list');
    assert.equal(list.status, 200, list.text);
    assert.equal(list.headers.get('mcp-session-id'), null, 'no session in this era');
    assert.deepEqual(result(list).tools.map((t: { name: string }) => t.name).sort(), ['echo', 'pid']);
    assert.equal(result(list).cacheScope, 'private');
    assert.deepEqual(result(await call('modern', alice, 2, 'tools/call', { name: 'echo', arguments: { text: 'stdio modern' } })).content, [{ type: 'text', text: 'stdio modern' }]);
    const pidOf = async (key: string, id: number) => result(await call('modern', key, id, 'tools/call', { name: 'pid', arguments: {} })).content[0].text as string;
    const [a1, a2, b1] = [await pidOf(alice, 3), await pidOf(alice, 4), await pidOf(bob, 5)];
    assert.equal(a1, a2, 'one child serves a principal\'s requests');
    assert.notEqual(a1, b1, 'a principal never shares a child with another');
  });

  test('an SDK 2.x client (negotiating) and an SDK 1.x client both work with the same stdio server', async () => {
    const modernClient = await connectModernClient(`${gw.url}/mcp/modern`, { authorization: `Bearer ${alice}` });
    try {
      assert.deepEqual((await modernClient.callTool({ name: 'echo', arguments: { text: 'v2' } })).content, [{ type: 'text', text: 'v2' }]);
    } finally {
      await modernClient.close();
    }
    const { client } = await connectClient(`${gw.url}/mcp/modern`, { authorization: `Bearer ${bob}` });
    try {
      assert.deepEqual((await client.callTool({ name: 'echo', arguments: { text: 'v1' } })).content, [{ type: 'text', text: 'v1' }]);
    } finally {
      await client.close();
    }
  });
});

describe('2026-07-28 with OAuth: tokens of the embedded authorization server in front of SDK 2.x servers', () => {
  test('an SDK 2.x client with an access token for one upstream calls its tools over HTTP and stdio; the token does not work at the other', async () => {
    const modern = await startModernUpstream();
    const setup = await startOAuthGateway({}, {
      authorization: {
        ...OAUTH_AUTHORIZATION,
        scopes: { ...OAUTH_AUTHORIZATION!.scopes, 'modern:use': { upstreams: ['modern', 'mstdio'], tools: ['echo'] } },
        roles: { writer: ['notes:read', 'notes:write', 'echo:use', 'modern:use'] },
      },
      upstreams: { notes: { command: notesServerCommand() }, modern: { url: modern.url }, mstdio: { command: modernStdioCommand(), env: ['PATH', 'HOME'] } },
    });
    try {
      for (const upstream of ['modern', 'mstdio']) {
        const resource = `${setup.issuer}/mcp/${upstream}`;
        const tokens = await obtainTokens(setup.issuer, { username: 'alice', resource, scope: 'modern:use' });
        const client = await connectModernClient(resource, { authorization: `Bearer ${tokens.access_token}` });
        try {
          assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ['echo'], `${upstream}: only what the scope opens`);
          assert.deepEqual((await client.callTool({ name: 'echo', arguments: { text: upstream } })).content, [{ type: 'text', text: upstream }]);
        } finally {
          await client.close();
        }
        const other = `${setup.issuer}/mcp/${upstream === 'modern' ? 'mstdio' : 'modern'}`;
        const refused = await postRaw(other, modernCall(1, 'tools/list'), { ...MODERN_HEADERS, 'mcp-method': 'tools/list', authorization: `Bearer ${tokens.access_token}` });
        assert.equal(refused.status, 401, 'a token is bound to one upstream (RFC 8707 audience)');
      }
    } finally {
      await setup.close();
      await modern.close();
    }
  });
});

describe('a 2026-07-28 subscriptions/listen stream', () => {
  test('carries resource updates only for resources the caller may read', async () => {
    const modern = await startModernUpstream();
    const gw = await startGateway({ upstreams: { modern: { url: modern.url, allow: { resources: ['test://readme'] } } } });
    const abort = new AbortController();
    try {
      const res = await fetch(`${gw.url}/mcp/modern`, {
        method: 'POST',
        signal: abort.signal,
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...MODERN_HEADERS, 'mcp-method': 'subscriptions/listen' },
        body: modernCall(1, 'subscriptions/listen', { notifications: { resourceSubscriptions: ['test://readme', 'test://secret'] } }),
      });
      assert.equal(res.status, 200);
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = '';
      // One read in flight at a time, kept across waits: a read abandoned by a timeout would swallow a chunk.
      let pending: ReturnType<typeof reader.read> | undefined;
      const readUntil = async (pattern: RegExp, ms: number) => {
        const end = Date.now() + ms;
        while (!pattern.test(text) && Date.now() < end) {
          pending ??= reader.read();
          const next = await Promise.race([pending, new Promise<undefined>((r) => setTimeout(() => r(undefined), 200))]);
          if (next === undefined) continue;
          pending = undefined;
          if (next.value) text += next.value;
          if (next.done) return;
        }
      };
      await readUntil(/subscriptions\/acknowledged/, 5000);
      assert.match(text, /subscriptions\/acknowledged/, 'the stream is open');
      modern.notify.resourceUpdated('test://secret');
      modern.notify.resourceUpdated('test://readme');
      const updated = /notifications\/resources\/updated[^\n]*test:\/\/readme/;
      await readUntil(updated, 5000);
      assert.match(text, updated, 'an update the caller may see arrives');
      assert.doesNotMatch(text, /notifications\/resources\/updated[^\n]*test:\/\/secret/, 'an update of a resource the caller may not read is dropped');
    } finally {
      abort.abort();
      await gw.close();
      await modern.close();
    }
  });
});
