import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../helpers/upstreams.js';
import { connectClient, postRaw, INITIALIZE } from '../helpers/client.js';
import { keyedSetup, createKey, bearer } from '../helpers/keys.js';
import { SqliteStore } from '../../src/store/index.js';
import { generateApiKey } from '../../src/credentials/index.js';
import { parseAuditRow, sealAuditRecord, verifyAuditChain, verifyAuditChains, type ChainedAuditRecord } from '../../src/audit/index.js';

/** The chain as another process (`warden audit`) would read it. */
async function chain(dbPath: string): Promise<ChainedAuditRecord[]> {
  const store = new SqliteStore(dbPath);
  try {
    return (await store.audit.query({ limit: 100_000 })).map(parseAuditRow);
  } finally {
    await store.close();
  }
}

describe('audit records through the gateway: exactly the record each decision should leave', () => {
  let upstream: RunningHttpUpstream;
  let gw: TestGateway;
  let setup: ReturnType<typeof keyedSetup>;
  let alice: { id: string; key: string };

  before(async () => {
    upstream = await startHttpUpstream({ stateful: false, json: true });
    setup = keyedSetup();
    alice = await createKey(setup.dbPath, { subject: 'alice', tenant: 'acme', scopes: ['echo'] });
    gw = await startGateway({
      ...setup.config,
      authorization: { scopes: { echo: { tools: ['echo'] } } },
      rateLimit: { perIp: false },
      audit: { log: false, instance: 'test-1', arguments: { enabled: true } },
      upstreams: { web: { url: upstream.url, allow: { tools: ['echo', 'slow'] } } },
    }, [], { configuredAudit: true });
  });

  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const call = (id: number, name: string, args: Record<string, unknown>) =>
    JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

  test('allowed, denied by scope, denied by allow-list, failed authentication, and outcomes', async () => {
    const web = `${gw.url}/mcp/web`;
    const h = (id: string) => ({ ...bearer(alice.key), 'x-request-id': id });
    assert.equal((await postRaw(web, call(1, 'echo', { text: 'hi', password: 'hunter2' }), h('req-allow'))).status, 200);
    assert.equal((await postRaw(web, call(2, 'slow', { steps: 1 }), h('req-scope'))).status, 403);
    assert.equal((await postRaw(web, call(3, 'secret_tool', {}), h('req-list'))).status, 403);
    const stranger = generateApiKey();
    assert.equal((await postRaw(web, JSON.stringify(INITIALIZE), { ...bearer(stranger.key), 'x-request-id': 'req-auth' })).status, 401);
    assert.equal((await postRaw(web, JSON.stringify(INITIALIZE), { 'x-request-id': 'req-none' })).status, 401);
    await new Promise((r) => setTimeout(r, 100)); // outcomes are written after the answer

    const records = await chain(setup.dbPath);
    const of = (requestId: string) => records.filter((r) => r.requestId === requestId).map(({ seq, prevHash, hash, ts, ...rest }) => rest);
    const who = { instance: 'test-1', subject: 'alice', tenant: 'acme', credential: { kind: 'api_key', id: alice.id }, upstream: 'web', ip: '127.0.0.1', userAgent: 'node' };
    assert.deepEqual(of('req-allow'), [
      { ...who, event: 'call', requestId: 'req-allow', method: 'tools/call', target: 'echo', targetKind: 'tool', decision: 'allow', reason: 'scope echo', arguments: { text: 'hi', password: '[REDACTED]' } },
      { ...who, event: 'outcome', requestId: 'req-allow', method: 'tools/call', target: 'echo', targetKind: 'tool', decision: 'allow', reason: 'answered', status: 200, latencyMs: of('req-allow')[1]!.latencyMs },
    ]);
    assert.ok((of('req-allow')[1]!.latencyMs as number) >= 0);
    const scope = of('req-scope');
    assert.equal(scope.length, 1, 'a denied call has its decision and no outcome');
    assert.equal(scope[0]!.decision, 'deny');
    assert.match(scope[0]!.reason, /no scope of the caller opens tool 'slow'/);
    const listed = of('req-list');
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.reason, 'tool not on the allow-list');
    const auth = of('req-auth');
    assert.deepEqual(auth.map((r) => [r.event, r.decision, r.subject, r.credential.kind, r.credential.id, r.method]), [['authentication', 'deny', '-', 'api_key', stranger.id, 'HTTP POST']]);
    assert.deepEqual(of('req-none').map((r) => [r.event, r.credential.kind, r.reason]), [['authentication', 'none', 'authentication failed: no credential']]);
  });

  test('a batch leaves one record per request, and the chain verifies', async () => {
    const before = (await chain(setup.dbPath)).length;
    const batch = `[${call(1, 'echo', { text: 'a' })},${call(2, 'echo', { text: 'b' })},${JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' })}]`;
    const res = await postRaw(`${gw.url}/mcp/web`, batch, { ...bearer(alice.key), 'x-request-id': 'req-batch', 'mcp-protocol-version': '2025-03-26' });
    assert.equal(res.status, 200);
    await new Promise((r) => setTimeout(r, 100));
    const records = (await chain(setup.dbPath)).slice(before);
    assert.deepEqual(records.filter((r) => r.requestId === 'req-batch').map((r) => `${r.event}:${r.method}:${r.target ?? ''}`), [
      'call:tools/call:echo', 'call:tools/call:echo', 'call:tools/list:', 'outcome:tools/call:echo',
    ]);
    const store = new SqliteStore(setup.dbPath);
    try {
      assert.equal((await verifyAuditChains(store.audit)).ok, true);
    } finally {
      await store.close();
    }
  });

  test('no secret in any record: the store file holds neither keys nor redacted arguments', async () => {
    const { client } = await connectClient(`${gw.url}/mcp/web`, bearer(alice.key));
    await client.callTool({ name: 'echo', arguments: { text: 'x', apiKey: alice.key, note: `use ${alice.key} here` } });
    await client.close();
    await new Promise((r) => setTimeout(r, 100));
    const records = JSON.stringify(await chain(setup.dbPath));
    assert.ok(!records.includes(alice.key.slice(16, 59)));
    assert.ok(!records.includes('hunter2'));
    for (const file of [setup.dbPath, `${setup.dbPath}-wal`]) {
      if (!existsSync(file)) continue;
      const bytes = readFileSync(file);
      assert.ok(!bytes.includes(alice.key.slice(16, 59)), `secret in ${file}`);
      assert.ok(!bytes.includes('hunter2'), `password in ${file}`);
    }
  });
});

describe('outcome records of failed calls', () => {
  test('a call the upstream never answers: its outcome says 504 upstream_timeout', async () => {
    const upstream = await startHttpUpstream({ stateful: false, json: true });
    const setup = keyedSetup('warden-outcome-');
    const gw = await startGateway({
      store: setup.config.store,
      audit: { log: false },
      rateLimit: { perIp: false },
      upstreams: { web: { url: upstream.url, timeout: 300 } },
    }, [], { configuredAudit: true });
    try {
      const res = await postRaw(`${gw.url}/mcp/web`, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'hang', arguments: {} } }), { 'x-request-id': 'req-hang' });
      assert.equal(res.status, 504);
      await new Promise((r) => setTimeout(r, 100));
      const records = (await chain(setup.dbPath)).filter((r) => r.requestId === 'req-hang');
      assert.deepEqual(records.map((r) => [r.event, r.subject, r.credential.kind, r.status, r.error]), [
        ['call', 'anonymous', 'none', undefined, undefined],
        ['outcome', 'anonymous', 'none', 504, 'upstream_timeout'],
      ]);
      assert.ok(records[1]!.latencyMs! >= 300);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});

describe('retention', () => {
  test('audit.retainDays prunes old records at start, and what remains still verifies', async () => {
    const setup = keyedSetup('warden-retention-');
    const store = new SqliteStore(setup.dbPath);
    const old = (days: number, requestId: string) => ({
      ts: new Date(Date.now() - days * 86_400_000).toISOString(), instance: 'x', event: 'call', requestId,
      subject: 's', credential: { kind: 'none', id: '-' }, method: 'tools/call', decision: 'allow', reason: 'r',
    });
    await store.audit.append('x', [old(40, 'a'), old(35, 'b'), old(10, 'c')], sealAuditRecord);
    await store.close();
    const upstream = await startHttpUpstream({ stateful: false, json: true });
    const gw = await startGateway({
      store: setup.config.store,
      audit: { log: false, retainDays: 30 },
      upstreams: { web: { url: upstream.url } },
    }, [], { configuredAudit: true });
    try {
      assert.equal((await postRaw(`${gw.url}/mcp/web`, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }), { 'x-request-id': 'new' })).status, 200);
      await new Promise((r) => setTimeout(r, 100));
      const records = await chain(setup.dbPath);
      assert.deepEqual(records.map((r) => r.requestId), ['c', 'new', 'new']);
      assert.equal(records[0]!.seq, 3, "numbering of x's chain goes on from the pruned records");
      const reopened = new SqliteStore(setup.dbPath);
      try {
        assert.equal((await verifyAuditChains(reopened.audit)).ok, true);
      } finally {
        await reopened.close();
      }
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});

describe('the chain head in the log', () => {
  test('logged at start and at shutdown; the last one is the head that verify --expect accepts', async () => {
    const setup = keyedSetup('warden-head-');
    const upstream = await startHttpUpstream({ stateful: false, json: true });
    const gw = await startGateway({ store: setup.config.store, upstreams: { web: { url: upstream.url } } }, [], { configuredAudit: true });
    await postRaw(`${gw.url}/mcp/web`, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    await new Promise((r) => setTimeout(r, 100));
    await gw.close();
    await upstream.close();
    const heads = gw.logs.lines.map((l) => JSON.parse(l) as { msg: string; auditHead?: string }).filter((l) => l.msg === 'audit chain head').map((l) => l.auditHead!);
    assert.equal(heads.length, 2);
    assert.match(heads[0]!, /^.+@0:0{64}$/, 'an empty chain at start, named by its instance');
    const store = new SqliteStore(setup.dbPath);
    try {
      const [, instance, seq, hash] = /^(.+)@(\d+):([0-9a-f]{64})$/.exec(heads[1]!)!;
      const result = await verifyAuditChain(store.audit, instance!, { expectHead: { seq: Number(seq), hash: hash! } });
      assert.equal(result.ok, true);
      assert.equal(result.ok && result.head.seq, 2);
    } finally {
      await store.close();
    }
  });
});
