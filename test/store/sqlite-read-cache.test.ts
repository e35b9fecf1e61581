import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore, type ApiKeyRecord } from '../../src/store/index.js';

const key = (id: string): ApiKeyRecord => ({
  id, hash: 'h'.repeat(64), subject: 'alice', tenant: null, name: null, scopes: ['echo'], roles: [],
  createdAt: 1, expiresAt: null, lastUsedAt: null, revokedAt: null, replacedBy: null,
});

test('reads answered from the cache still see, on the very next read, what another connection committed', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'warden-cache-')), 'warden.db');
  const gateway = new SqliteStore(file);
  const cli = new SqliteStore(file);
  try {
    await cli.apiKeys.insert(key('k1'));
    assert.equal((await gateway.apiKeys.get('k1'))?.revokedAt, null);
    assert.equal(await gateway.apiKeys.get('k1'), await gateway.apiKeys.get('k1'), 'an unchanged store is answered from the cache');
    assert.equal(await gateway.apiKeys.get('nope'), undefined);
    await cli.apiKeys.revoke('k1', 42);
    assert.equal((await gateway.apiKeys.get('k1'))?.revokedAt, 42);
    await cli.apiKeys.insert(key('nope'));
    assert.equal((await gateway.apiKeys.get('nope'))?.id, 'nope', 'a cached miss is dropped too');

    const entries = [{ kind: 'user' as const, value: 'alice' }, { kind: 'client' as const, value: 'c1' }];
    assert.equal(await gateway.revocations.anyRevoked(entries, 10), false);
    await cli.revocations.add({ kind: 'client', value: 'c1' }, 20, Date.now() + 60_000);
    assert.equal(await gateway.revocations.anyRevoked(entries, 10), true);
    assert.equal(await gateway.revocations.anyRevoked(entries, 30), false, 'revoked before the token was issued');

    // This connection's own writes count as changes too.
    await gateway.revocations.add({ kind: 'user', value: 'alice' }, 40, Date.now() + 60_000);
    assert.equal(await gateway.revocations.anyRevoked(entries, 30), true);
    await gateway.apiKeys.revoke('nope', 50);
    assert.equal((await gateway.apiKeys.get('nope'))?.revokedAt, 50);
    assert.ok(Object.isFrozen(await gateway.apiKeys.get('k1')), 'shared records are frozen');
  } finally {
    await gateway.close();
    await cli.close();
  }
});
