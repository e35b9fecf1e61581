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

describe('a gateway on PostgreSQL', () => {
  test('serves an API-key call end to end with a key made by `warden keys create` on the same config; a revoke through the CLI holds', async (t) => {
    const schema = await createTestSchema();
    const dir = mkdtempSync(join(tmpdir(), 'warden-pg-gw-'));
    const upstream = await startHttpUpstream({ stateful: false, json: true });
    const store = { postgres: schema.url, redis: 'redis://127.0.0.1:6379' };
    const authorization = { scopes: { 'echo:use': { tools: ['echo'] } } };
    const file = join(dir, 'warden.yaml');
    const env = { DATABASE_URL: schema.url, REDIS_URL: store.redis };
    writeFileSync(file, JSON.stringify({ upstreams: { web: { url: upstream.url } }, auth: { apiKeys: {} }, authorization, store: { postgres: '${DATABASE_URL}', redis: '${REDIS_URL}' } }));
    // Dropped whatever happens below: a failed run must not leave its schema behind.
    t.after(async () => {
      await schema.drop();
      rmSync(dir, { recursive: true, force: true });
    });
    const gw = await startGateway({ upstreams: { web: { url: upstream.url } }, auth: { apiKeys: {} }, authorization, store, audit: { instance: 'gw-pg-1' } }, [], { configuredAudit: true });
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
});
