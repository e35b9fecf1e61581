import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../helpers/upstreams.js';
import { startIdentityUpstream, whoamiStdioCommand, type RunningIdentityUpstream } from '../helpers/identity-upstream.js';
import { connectClient, freePort, postRaw, rawRequest, INITIALIZE } from '../helpers/client.js';
import { keyedSetup, createKey, bearer } from '../helpers/keys.js';
import { generateApiKey } from '../../src/credentials/index.js';
import { IDENTITY_META_KEY } from '../../src/credentials/identity-tokens.js';

const text = (result: unknown) => ((result as { content: { text: string }[] }).content)[0]!.text;

describe('per-user isolation: sessions belong to their principal', () => {
  let upstream: RunningHttpUpstream;
  let gw: TestGateway;
  let alice: { id: string; key: string };
  let bob: { id: string; key: string };

  before(async () => {
    upstream = await startHttpUpstream({ stateful: true, json: false });
    const setup = keyedSetup();
    alice = await createKey(setup.dbPath, { subject: 'alice', scopes: ['use'] });
    bob = await createKey(setup.dbPath, { subject: 'bob', scopes: ['use'] });
    gw = await startGateway({
      ...setup.config,
      authorization: { scopes: { use: { tools: ['echo', 'whoami'] } } },
      rateLimit: { perIp: false },
      upstreams: { web: { url: upstream.url }, kids: { command: whoamiStdioCommand(), env: ['PATH'] } },
    });
  });

  after(async () => {
    await gw.close();
    await upstream.close();
  });

  for (const name of ['web', 'kids']) {
    test(`${name}: B presenting A's live Mcp-Session-Id gets 404, and A's session goes on`, async () => {
      const url = `${gw.url}/mcp/${name}`;
      const a = await connectClient(url, bearer(alice.key));
      const sessionId = a.transport.sessionId!;
      assert.ok(sessionId);
      const stolen = { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' };
      const list = JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/list' });
      await new Promise((r) => setTimeout(r, 200)); // A's client opens its GET stream in the background
      const seenBefore = upstream.seen.length;

      const post = await postRaw(url, list, { ...bearer(bob.key), ...stolen });
      assert.equal(post.status, 404);
      assert.equal(post.json.error.data.error, 'session_not_found');
      const get = await rawRequest(gw.url, `/mcp/${name}`, { headers: { ...bearer(bob.key), ...stolen, accept: 'text/event-stream' } });
      assert.equal(get.status, 404);
      const del = await rawRequest(gw.url, `/mcp/${name}`, { method: 'DELETE', headers: { ...bearer(bob.key), ...stolen } });
      assert.equal(del.status, 404);
      // Without any credential the session id does not help either: authentication comes first.
      assert.equal((await postRaw(url, list, stolen)).status, 401);
      if (name === 'web') assert.equal(upstream.seen.length, seenBefore, "B's requests never reached the upstream");

      const tools = await a.client.listTools();
      assert.ok(tools.tools.length > 0, "A's session still works");
      await a.client.close();
    });
  }

  test('the same user with a second key keeps their session', async () => {
    const setupKey = await connectClient(`${gw.url}/mcp/web`, bearer(alice.key));
    const list = JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/list' });
    const res = await postRaw(`${gw.url}/mcp/web`, list, { ...bearer(alice.key), 'mcp-session-id': setupKey.transport.sessionId!, 'mcp-protocol-version': '2025-06-18' });
    assert.equal(res.status, 200);
    await setupKey.client.close();
  });

  test('an unknown session id gets 404 without reaching the upstream', async () => {
    const seenBefore = upstream.seen.length;
    const res = await postRaw(`${gw.url}/mcp/web`, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }), { ...bearer(alice.key), 'mcp-session-id': 'made-up' });
    assert.equal(res.status, 404);
    assert.equal(upstream.seen.length, seenBefore);
  });
});

describe('the upstream learns who is calling, never the credential', () => {
  let identityUpstream: RunningIdentityUpstream;
  let gw: TestGateway;
  let alice: { id: string; key: string };

  before(async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    identityUpstream = await startIdentityUpstream({ jwksUrl: `${base}/.well-known/jwks.json`, issuer: base });
    const setup = keyedSetup();
    alice = await createKey(setup.dbPath, { subject: 'alice', tenant: 'acme', scopes: ['who'], roles: ['staff'] });
    gw = await startGateway({
      ...setup.config,
      listen: { host: '127.0.0.1', port },
      authorization: { scopes: { who: { tools: ['whoami'] } }, roles: { staff: ['who'] } },
      upstreams: { web: { url: identityUpstream.url }, kids: { command: whoamiStdioCommand(), env: ['PATH'] } },
    });
  });

  after(async () => {
    await gw.close();
    await identityUpstream.close();
  });

  test('HTTP: the upstream verifies the gateway-signed JWT (via the JWKS URL) and reads the subject from it', async () => {
    const { client } = await connectClient(`${gw.url}/mcp/web`, bearer(alice.key));
    const claims = JSON.parse(text(await client.callTool({ name: 'whoami', arguments: {} })));
    assert.deepEqual(claims, { sub: 'alice', tenant: 'acme', scope: 'who', roles: ['staff'], cred: { kind: 'api_key', id: alice.id } });
    await client.close();
    assert.ok(identityUpstream.seen.length > 0);
    for (const seen of identityUpstream.seen) {
      assert.equal(seen.headers.authorization, undefined, "the caller's Authorization never reaches the upstream");
      assert.ok(!JSON.stringify(seen.headers).includes(alice.key.slice(16)), 'nor the key anywhere in the headers');
      assert.ok(typeof seen.headers['x-warden-identity'] === 'string');
    }
  });

  test('HTTP: a forged principal in _meta is removed before the upstream sees the body', async () => {
    const { client, transport } = await connectClient(`${gw.url}/mcp/web`, bearer(alice.key));
    const forged = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'whoami', arguments: {}, _meta: { [IDENTITY_META_KEY]: { sub: 'mallory' } } } };
    const res = await postRaw(`${gw.url}/mcp/web`, JSON.stringify(forged), { ...bearer(alice.key), 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-06-18' });
    assert.equal(res.status, 200);
    assert.ok(!identityUpstream.seen.some((s) => JSON.stringify(s.body ?? '').includes('mallory')));
    await client.close();
  });

  test('stdio: the child gets the principal in params._meta, and a forged one is overwritten', async () => {
    const { client, transport } = await connectClient(`${gw.url}/mcp/kids`, bearer(alice.key));
    const meta = JSON.parse(text(await client.callTool({ name: 'whoami', arguments: {} })));
    assert.deepEqual(meta, { sub: 'alice', tenant: 'acme', scope: 'who', roles: ['staff'], cred: { kind: 'api_key', id: alice.id } });
    const forged = { jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'whoami', arguments: {}, _meta: { [IDENTITY_META_KEY]: { sub: 'mallory' } } } };
    const res = await postRaw(`${gw.url}/mcp/kids`, JSON.stringify(forged), { ...bearer(alice.key), 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-06-18' });
    assert.equal(JSON.parse(res.json.result.content[0].text).sub, 'alice');
    await client.close();
  });

  test('the JWKS is public and holds only public keys', async () => {
    const jwks = (await (await fetch(`${gw.url}/.well-known/jwks.json`)).json()) as { keys: Record<string, unknown>[] };
    assert.ok(jwks.keys.length >= 1);
    for (const key of jwks.keys) {
      assert.equal(key.d, undefined, 'no private part');
      assert.equal(key.alg, 'ES256');
    }
  });
});

describe('rate limits per principal and per key', () => {
  let upstream: RunningHttpUpstream;

  before(async () => {
    upstream = await startHttpUpstream({ stateful: false, json: true });
  });
  after(() => upstream.close());

  test('a key, then its user across keys, is throttled with 429 and Retry-After', async () => {
    const setup = keyedSetup();
    const one = await createKey(setup.dbPath, { subject: 'sam', scopes: ['use'] });
    const two = await createKey(setup.dbPath, { subject: 'sam', scopes: ['use'] });
    const other = await createKey(setup.dbPath, { subject: 'tia', scopes: ['use'] });
    const gw = await startGateway({
      ...setup.config,
      authorization: { scopes: { use: { tools: ['echo'] } } },
      rateLimit: { perIp: false, perPrincipal: { requestsPerSecond: 0.01, burst: 3 }, perKey: { requestsPerSecond: 0.01, burst: 2 } },
      upstreams: { web: { url: upstream.url } },
    });
    try {
      const ping = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
      const url = `${gw.url}/mcp/web`;
      assert.equal((await postRaw(url, ping, bearer(one.key))).status, 200);
      assert.equal((await postRaw(url, ping, bearer(one.key))).status, 200);
      const byKey = await postRaw(url, ping, bearer(one.key));
      assert.equal(byKey.status, 429);
      assert.match(byKey.json.error.message, new RegExp(`credential ${one.id}`));
      assert.ok(Number(byKey.headers.get('retry-after')) >= 1);
      const byUser = await postRaw(url, ping, bearer(two.key));
      assert.equal(byUser.status, 429, "sam's other key shares sam's budget");
      assert.match(byUser.json.error.message, /for sam/);
      assert.equal((await postRaw(url, ping, bearer(other.key))).status, 200, 'another user is not affected');
    } finally {
      await gw.close();
    }
  });

  test('failed authentications spend the per-IP budget, so key guessing is throttled', async () => {
    const setup = keyedSetup();
    const gw = await startGateway({
      ...setup.config,
      authorization: { scopes: { use: { tools: ['echo'] } } },
      rateLimit: { perIp: { requestsPerSecond: 0.01, burst: 3 } },
      upstreams: { web: { url: upstream.url } },
    });
    try {
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await postRaw(`${gw.url}/mcp/web`, JSON.stringify(INITIALIZE), bearer(generateApiKey().key))).status);
      assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
    } finally {
      await gw.close();
    }
  });
});

describe('the /mcp alias of a sole upstream is its own protected resource', () => {
  test('401 on /mcp points at /.well-known/oauth-protected-resource/mcp, whose resource is <base>/mcp', async () => {
    const upstream = await startHttpUpstream({ stateful: false, json: true });
    const setup = keyedSetup();
    const gw = await startGateway({
      ...setup.config,
      authorization: { scopes: { use: { tools: ['echo'] } } },
      upstreams: { web: { url: upstream.url } },
    });
    try {
      const res = await postRaw(`${gw.url}/mcp`, JSON.stringify(INITIALIZE));
      assert.equal(res.status, 401);
      const metadata = `${gw.url}/.well-known/oauth-protected-resource/mcp`;
      assert.ok((res.headers.get('www-authenticate') ?? '').includes(`resource_metadata="${metadata}"`));
      const doc = (await (await fetch(metadata)).json()) as { resource: string; scopes_supported: string[] };
      assert.equal(doc.resource, `${gw.url}/mcp`);
      assert.deepEqual(doc.scopes_supported, ['use']);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});
