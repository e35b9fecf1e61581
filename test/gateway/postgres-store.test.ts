import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway } from '../helpers/gateway.js';
import { startHttpUpstream } from '../helpers/upstreams.js';
import { connectClient, postRaw, INITIALIZE } from '../helpers/client.js';
import { warden } from '../helpers/cli.js';
import { createTestSchema } from '../helpers/postgres.js';
import { openStore } from '../../src/store/index.js';
import { verifyAuditChains } from '../../src/audit/verify.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { REDIS_URL, deleteKeys, testPrefix } from '../helpers/redis.js';

describe('a gateway on PostgreSQL', () => {
  test('serves an API-key call end to end with a key made by `warden keys create` on the same config; a revoke through the CLI holds', async (t) => {
    const schema = await createTestSchema();
    const dir = mkdtempSync(join(tmpdir(), 'warden-pg-gw-'));
    const upstream = await startHttpUpstream({ stateful: false, json: true });
    const store = { postgres: schema.url, redis: REDIS_URL };
    // The gateway and the CLI share a key prefix of this test's own: the CLI's revocation reaches the gateway
    // through it, and no other test file's keys are in it.
    const redis = { keyPrefix: testPrefix() };
    const authorization = { scopes: { 'echo:use': { tools: ['echo'] } } };
    const file = join(dir, 'warden.yaml');
    const env = { DATABASE_URL: schema.url, REDIS_URL: store.redis };
    writeFileSync(file, JSON.stringify({ upstreams: { web: { url: upstream.url } }, auth: { apiKeys: {} }, authorization, redis, store: { postgres: '${DATABASE_URL}', redis: '${REDIS_URL}' } }));
    // Dropped whatever happens below: a failed run must not leave its schema behind.
    t.after(async () => {
      await schema.drop();
      await deleteKeys(redis.keyPrefix);
      rmSync(dir, { recursive: true, force: true });
    });
    const gw = await startGateway({ upstreams: { web: { url: upstream.url } }, auth: { apiKeys: {} }, authorization, store, redis, audit: { instance: 'gw-pg-1' } }, [], { configuredAudit: true });
    try {
      const created = await warden(['keys', 'create', '--config', file, '--subject', 'alice', '--scope', 'echo:use', '--json'], env);
      assert.equal(created.code, 0, created.stderr);
      const { key, id } = JSON.parse(created.stdout) as { key: string; id: string };

      const { client } = await connectClient(`${gw.url}/mcp/web`, { authorization: `Bearer ${key}` });
      try {
        const result = await client.callTool({ name: 'echo', arguments: { text: 'over postgres' } });
        assert.match(JSON.stringify(result.content), /over postgres/);
      } finally {
        await client.close();
      }

      // Control and attack in one: the same key, revoked through the CLI, is refused at the next request.
      const revoked = await warden(['keys', 'revoke', id, '--config', file], env);
      assert.equal(revoked.code, 0, revoked.stderr);
      const refused = await postRaw(`${gw.url}/mcp/web`, JSON.stringify(INITIALIZE), { authorization: `Bearer ${key}` });
      assert.equal(refused.status, 401);
    } finally {
      await gw.close();
      await upstream.close();
    }
    // The gateway's records and the CLI's admin records, each on its own instance's chain, all verify.
    const check = await openStore({ store: { ...store, poolSize: 2, statementTimeout: 5_000 } });
    try {
      const verified = await verifyAuditChains(check.audit);
      assert.equal(verified.ok, true, JSON.stringify(verified));
      assert.ok(verified.chains.some((c) => c.instance === 'gw-pg-1' && c.records > 0), JSON.stringify(verified.chains.map((c) => c.instance)));
      assert.ok(verified.chains.length >= 2, 'the CLI wrote admin records on a chain of its own');
    } finally {
      await check.close();
    }
  });

  test('PostgreSQL stops answering: /readyz is 503 store_unavailable and calls get 503 (never served unaudited); it answers again: both recover', async (t) => {
    const schema = await createTestSchema();
    const base = new URL(schema.url);
    const proxy = new TcpProxy({ hostname: base.hostname, port: Number(base.port || 5432) });
    await proxy.start();
    const viaProxy = new URL(schema.url);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    const upstream = await startHttpUpstream({ stateful: false, json: true });
    const authorization = { scopes: { 'echo:use': { tools: ['echo'] } } };
    // A short statement timeout and pool wait, so that a hung database is noticed within the test.
    const store = { postgres: viaProxy.href, redis: REDIS_URL, statementTimeout: 1_000 };
    const redis = { keyPrefix: testPrefix() };
    const gw = await startGateway({ upstreams: { web: { url: upstream.url } }, auth: { apiKeys: {} }, authorization, store, redis, rateLimit: { perIp: false } }, [], { configuredAudit: true });
    t.after(async () => {
      await gw.close();
      await upstream.close();
      await proxy.stop();
      await schema.drop();
      await deleteKeys(redis.keyPrefix);
    });
    const direct = await openStore({ store: { postgres: schema.url, redis: REDIS_URL, poolSize: 1, statementTimeout: 5_000 } }, { announce: false });
    const { ApiKeys } = await import('../../src/credentials/index.js');
    const { key } = await new ApiKeys(direct.apiKeys).create({ subject: 'alice', scopes: ['echo:use'] });
    await direct.close();
    const call = () => postRaw(`${gw.url}/mcp/web`, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } }), { authorization: `Bearer ${key}`, 'mcp-protocol-version': '2025-06-18' });

    assert.equal((await call()).status, 200, 'control: served while PostgreSQL answers');
    assert.equal((await fetch(`${gw.url}/readyz`)).status, 200);

    await proxy.stop();
    const refused = await call();
    assert.equal(refused.status, 503, refused.text);
    assert.match(refused.text, /cannot reach its store/);
    assert.ok(!refused.text.includes(key) && !refused.text.includes('postgres://'), 'no key, no URL in the answer');
    const ready = await fetch(`${gw.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal((await ready.json() as { status: string }).status, 'store_unavailable');

    await proxy.start();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await call()).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 200, 'served again once PostgreSQL answers');
    assert.equal((await fetch(`${gw.url}/readyz`)).status, 200);
  });
});
