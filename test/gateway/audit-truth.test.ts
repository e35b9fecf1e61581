import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../helpers/upstreams.js';
import { postRaw, initialize } from '../helpers/client.js';
import { keyedSetup, createKey, bearer } from '../helpers/keys.js';
import { startOAuthGateway, type OAuthSetup } from '../helpers/oauth.js';
import { SqliteStore } from '../../src/store/index.js';
import { parseAuditRow, verifyAuditChain, verifyAuditChains, type ChainedAuditRecord } from '../../src/audit/index.js';

/** The chain as another process (`warden audit`) would read it, for one request id. */
async function recordsOf(dbPath: string, requestId: string): Promise<ChainedAuditRecord[]> {
  const store = new SqliteStore(dbPath);
  try {
    return (await store.audit.query({ limit: 100_000 })).map(parseAuditRow).filter((r) => r.requestId === requestId);
  } finally {
    await store.close();
  }
}

const settle = () => new Promise((r) => setTimeout(r, 150)); // outcome records follow the answer

describe('audit truth: each record says what happened', () => {
  let upstream: RunningHttpUpstream;
  let gw: TestGateway;
  let setup: ReturnType<typeof keyedSetup>;
  let alice: { id: string; key: string };
  let bob: { id: string; key: string };

  before(async () => {
    upstream = await startHttpUpstream({ stateful: true, json: true });
    setup = keyedSetup('warden-truth-');
    alice = await createKey(setup.dbPath, { subject: 'alice', scopes: ['echo'] });
    bob = await createKey(setup.dbPath, { subject: 'bob', scopes: ['echo'] });
    gw = await startGateway({
      ...setup.config,
      authorization: { scopes: { echo: { tools: ['echo'] } } },
      rateLimit: { perIp: false, perPrincipal: { requestsPerSecond: 0.001, burst: 3 } },
      audit: { log: false },
      upstreams: { web: { url: upstream.url } },
    }, [], { configuredAudit: true });
  });

  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const call = (id: number, name: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: { text: 'x' } } });

  test('a batch with a denied member is refused whole: nothing is forwarded, every member is recorded as refused', async () => {
    const seen = upstream.seen.length;
    const batch = JSON.stringify([call(1, 'echo'), call(2, 'slow'), { jsonrpc: '2.0', id: 3, method: 'tools/list' }]);
    const res = await postRaw(`${gw.url}/mcp/web`, batch, { ...bearer(alice.key), 'x-request-id': 'req-mixed', 'mcp-protocol-version': '2025-03-26' });
    assert.equal(res.status, 403);
    assert.equal(upstream.seen.length, seen, 'nothing of the batch reached the upstream');
    await settle();
    const records = await recordsOf(setup.dbPath, 'req-mixed');
    assert.deepEqual(records.map((r) => [r.event, r.method, r.target ?? '', r.decision]), [
      ['call', 'tools/call', 'echo', 'deny'], ['call', 'tools/call', 'slow', 'deny'], ['call', 'tools/list', '', 'deny'],
    ]);
    assert.match(records[1]!.reason, /no scope of the caller opens tool 'slow'/);
    assert.match(records[0]!.reason, /^not forwarded: the batch was refused because tools\/call tool 'slow' in it was denied$/);
    assert.equal(records[2]!.reason, records[0]!.reason);
  });

  test("another principal's session id is recorded as a refusal, not as an allowed call", async () => {
    const init = await initialize(`${gw.url}/mcp/web`, alice.key);
    assert.equal(init.status, 200);
    const session = init.headers.get('mcp-session-id')!;
    const seen = upstream.seen.length;
    const res = await postRaw(`${gw.url}/mcp/web`, JSON.stringify(call(7, 'echo')), {
      ...bearer(bob.key), 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18', 'x-request-id': 'req-hijack',
    });
    assert.equal(res.status, 404);
    assert.equal(upstream.seen.length, seen);
    await settle();
    const records = await recordsOf(setup.dbPath, 'req-hijack');
    assert.deepEqual(records.map((r) => [r.event, r.subject, r.method, r.decision, r.reason]), [
      ['call', 'bob', 'tools/call', 'deny', 'session refused: it belongs to another principal'],
    ]);
    const unknown = await postRaw(`${gw.url}/mcp/web`, JSON.stringify(call(8, 'echo')), {
      ...bearer(bob.key), 'mcp-session-id': 'no-such-session', 'x-request-id': 'req-stale',
    });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.text.includes('another'), false, 'the caller cannot tell a foreign session from an unknown one');
    await settle();
    assert.deepEqual((await recordsOf(setup.dbPath, 'req-stale')).map((r) => r.reason), ['session refused: unknown or ended']);
  });

  test('a rate-limited call is recorded as refused', async () => {
    const carol = await createKey(setup.dbPath, { subject: 'carol', scopes: ['echo'] });
    let status = 0;
    for (let i = 0; i < 6 && status !== 429; i++) {
      status = (await postRaw(`${gw.url}/mcp/web`, JSON.stringify(call(i, 'echo')), { ...bearer(carol.key), 'x-request-id': `req-rl-${i}` })).status;
      if (status === 429) {
        await settle();
        const records = await recordsOf(setup.dbPath, `req-rl-${i}`);
        assert.deepEqual(records.map((r) => [r.subject, r.decision, r.reason]), [['carol', 'deny', 'rate limited: per principal']]);
      }
    }
    assert.equal(status, 429);
    // Refused calls spend the budget too: probing for allowed tools is throttled like calling them.
    const dave = await createKey(setup.dbPath, { subject: 'dave', scopes: ['echo'] });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await postRaw(`${gw.url}/mcp/web`, JSON.stringify(call(i, 'slow')), bearer(dave.key))).status);
    assert.deepEqual(statuses, [403, 403, 403, 429]);
    const store = new SqliteStore(setup.dbPath);
    try {
      assert.equal((await verifyAuditChains(store.audit)).ok, true);
    } finally {
      await store.close();
    }
  });
});

describe('audit truth: the kind of credential presented', () => {
  let oauth: OAuthSetup;

  before(async () => {
    oauth = await startOAuthGateway();
  });

  after(async () => {
    await oauth.close();
  });

  const refusedWith = async (token: string, requestId: string) => {
    const res = await postRaw(oauth.webResource, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }), { ...bearer(token), 'x-request-id': requestId });
    assert.equal(res.status, 401);
    await settle();
    return (await recordsOf(oauth.dbPath, requestId)).map((r) => [r.event, r.decision, r.credential.kind]);
  };

  test('a refused OAuth access token is recorded as oauth, a refused API key as api_key, anything else as unknown', async () => {
    const forged = `${Buffer.from('{"alg":"ES256","typ":"at+jwt"}').toString('base64url')}.${Buffer.from('{"sub":"alice"}').toString('base64url')}.c2ln`;
    assert.deepEqual(await refusedWith(forged, 'req-jwt'), [['authentication', 'deny', 'oauth']]);
    assert.deepEqual(await refusedWith(`wdn_${'A'.repeat(61)}`, 'req-key'), [['authentication', 'deny', 'api_key']]);
    assert.deepEqual(await refusedWith('not-a-known-shape', 'req-other'), [['authentication', 'deny', 'unknown']]);
  });
});

describe('audit.outcomes: failures', () => {
  test('a call answered by the upstream leaves only its decision; a failed one also its outcome', async () => {
    const upstream = await startHttpUpstream({ stateful: false, json: true });
    const setup = keyedSetup('warden-outcomes-');
    const gw = await startGateway({
      store: setup.config.store,
      audit: { log: false, outcomes: 'failures' },
      rateLimit: { perIp: false },
      upstreams: { web: { url: upstream.url, timeout: 300 } },
    }, [], { configuredAudit: true });
    try {
      const call = (name: string) => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: { text: 'x' } } });
      assert.equal((await postRaw(`${gw.url}/mcp/web`, call('echo'), { 'x-request-id': 'req-ok' })).status, 200);
      assert.equal((await postRaw(`${gw.url}/mcp/web`, call('hang'), { 'x-request-id': 'req-hang' })).status, 504);
      await settle();
      assert.deepEqual((await recordsOf(setup.dbPath, 'req-ok')).map((r) => r.event), ['call']);
      assert.deepEqual((await recordsOf(setup.dbPath, 'req-hang')).map((r) => [r.event, r.status, r.error]), [['call', undefined, undefined], ['outcome', 504, 'upstream_timeout']]);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});
