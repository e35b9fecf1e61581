import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore, type ApiKeyRecord, type ApiKeyStore } from '../../src/store/index.js';
import { ApiKeys, CredentialError, generateApiKey, hashApiKey, type CredentialErrorCode } from '../../src/credentials/index.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

let dir: string;
let n = 0;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'warden-keys-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A real SQLite store in its own file, and ApiKeys on it with a clock the test moves. */
function setup(options: { touchIntervalMs?: number } = {}) {
  const path = join(dir, `k${++n}`, 'warden.db');
  const store = new SqliteStore(path);
  const clock = { now: T0 };
  const keys = new ApiKeys(store.apiKeys, { now: () => clock.now, ...options });
  return { path, store, clock, keys };
}

/** A key with a valid checksum for `id` but a secret of our choosing: what an attacker who knows an id can send. */
function forge(id: string): string {
  const body = `wdn_${id}${generateApiKey().key.slice(16, 59)}`;
  let v = createHash('sha256').update(body).digest().readUInt32BE(0);
  let sum = '';
  for (let i = 0; i < 6; i++) {
    sum = BASE62[v % 62] + sum;
    v = Math.floor(v / 62);
  }
  return body + sum;
}

async function refused(promise: Promise<unknown>, code: CredentialErrorCode, key?: string): Promise<CredentialError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof CredentialError, `expected CredentialError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (key) {
    assert.ok(!caught.message.includes(key), 'the message must not contain the key');
    assert.ok(!caught.message.includes(key.slice(16, 59)), 'the message must not contain the secret');
  }
  return caught;
}

/** Lets the deferred last-use write run. */
const settle = () => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));

describe('ApiKeys', { concurrency: true }, () => {
  test('create returns the key once and a view without the hash; verify accepts the key', async () => {
    const { store, keys } = setup();
    try {
      const { key, view } = await keys.create({ subject: 'alice', tenant: 'acme', name: 'laptop', scopes: ['notes:read', 'notes:read'], roles: ['editor'] });
      assert.match(key, /^wdn_[0-9A-Za-z]{61}$/);
      assert.equal(key.slice(4, 16), view.id);
      assert.equal('hash' in view, false);
      assert.deepEqual(view, {
        id: view.id, subject: 'alice', tenant: 'acme', name: 'laptop', scopes: ['notes:read'], roles: ['editor'],
        createdAt: T0, expiresAt: null, lastUsedAt: null, revokedAt: null, replacedBy: null, status: 'active',
      });
      const record = await keys.verify(key);
      assert.equal(record.id, view.id);
      assert.equal(record.subject, 'alice');
      assert.equal(record.hash, hashApiKey(key));
      const shown = await keys.get(view.id);
      assert.equal(shown && 'hash' in shown, false);
      assert.ok((await keys.list({})).every((v) => !('hash' in v)));
    } finally {
      await store.close();
    }
  });

  test('attack: an API key subject in the client-certificate namespace (mtls:...) is refused, so a key cannot pose as a machine', async () => {
    const { store, keys } = setup();
    try {
      const err = await refused(keys.create({ subject: 'mtls:spiffe://example.org/ci', scopes: ['s'] }), 'invalid_input');
      assert.match(err.message, /name client certificates/);
      assert.ok(await keys.create({ subject: 'spiffe://example.org/ci', scopes: ['s'] }));
    } finally {
      await store.close();
    }
  });

  test('probing: an unknown id and a known id with a wrong secret get the same error', async () => {
    const { store, keys } = setup();
    try {
      const { view } = await keys.create({ subject: 'alice', scopes: ['s'] });
      const wrongSecret = forge(view.id);
      const unknownId = forge('AAAAAAAAAAAA');
      const a = await refused(keys.verify(wrongSecret), 'unknown', wrongSecret);
      const b = await refused(keys.verify(unknownId), 'unknown', unknownId);
      assert.equal(a.message, b.message);
      assert.equal(a.keyId, view.id);
      assert.equal(b.keyId, 'AAAAAAAAAAAA');
    } finally {
      await store.close();
    }
  });

  test('probing: a revoked key is told apart only by someone holding the whole key', async () => {
    const { store, keys } = setup();
    try {
      const { key, view } = await keys.create({ subject: 'alice', scopes: ['s'] });
      await keys.revoke(view.id);
      await refused(keys.verify(forge(view.id)), 'unknown');
      await refused(keys.verify(key), 'revoked', key);
    } finally {
      await store.close();
    }
  });

  test('a key stops working at its expiry, to the millisecond', async () => {
    const { store, clock, keys } = setup();
    try {
      const { key, view } = await keys.create({ subject: 'alice', scopes: ['s'], expiresAt: T0 + 1_000 });
      clock.now = T0 + 999;
      await keys.verify(key);
      clock.now = T0 + 1_000;
      const err = await refused(keys.verify(key), 'expired', key);
      assert.equal(err.keyId, view.id);
      assert.equal((await keys.get(view.id))?.status, 'expired');
      assert.deepEqual(await keys.list({}), [], 'expired keys are left out of the default list');
      assert.equal((await keys.list({ includeInactive: true })).length, 1);
    } finally {
      await store.close();
    }
  });

  test('revocation takes effect at once, also when written by a second store on the same file (CLI while serving)', async () => {
    const { path, store, keys } = setup();
    const cliStore = new SqliteStore(path);
    try {
      const cli = new ApiKeys(cliStore.apiKeys, { now: () => T0 });
      const { key, view } = await keys.create({ subject: 'alice', scopes: ['s'] });
      await keys.verify(key);
      const revoked = await cli.revoke(view.id);
      assert.equal(revoked.status, 'revoked');
      assert.equal(revoked.revokedAt, T0);
      await refused(keys.verify(key), 'revoked', key);
      assert.equal((await cli.revoke(view.id)).status, 'revoked', 'revoking twice is fine');
      await refused(cli.revoke('AAAAAAAAAAAA'), 'not_found');
    } finally {
      await cliStore.close();
      await store.close();
    }
  });

  test('rotation with grace: both keys work until the grace ends, then only the new one; grants and expiry carry over', async () => {
    const { store, clock, keys } = setup();
    try {
      const old = await keys.create({ subject: 'alice', tenant: 'acme', name: 'ci', scopes: ['a', 'b'], roles: ['r'], expiresAt: T0 + 30 * 24 * HOUR });
      clock.now = T0 + HOUR;
      const { key, view, previous } = await keys.rotate(old.view.id, HOUR);
      assert.notEqual(view.id, old.view.id);
      assert.deepEqual(
        { subject: view.subject, tenant: view.tenant, name: view.name, scopes: view.scopes, roles: view.roles, expiresAt: view.expiresAt },
        { subject: 'alice', tenant: 'acme', name: 'ci', scopes: ['a', 'b'], roles: ['r'], expiresAt: T0 + 30 * 24 * HOUR },
      );
      assert.equal(view.createdAt, T0 + HOUR);
      assert.deepEqual({ status: previous.status, expiresAt: previous.expiresAt, replacedBy: previous.replacedBy },
        { status: 'grace', expiresAt: T0 + 2 * HOUR, replacedBy: view.id });

      clock.now = T0 + 2 * HOUR - 1;
      await keys.verify(old.key);
      await keys.verify(key);
      clock.now = T0 + 2 * HOUR;
      const err = await refused(keys.verify(old.key), 'rotated', old.key);
      assert.ok(!err.message.includes(view.id), 'the new id is not told to whoever holds the old key');
      await keys.verify(key);
      assert.equal((await keys.get(old.view.id))?.status, 'rotated');
    } finally {
      await store.close();
    }
  });

  test('rotation never extends the old key past its own expiry', async () => {
    const { store, keys } = setup();
    try {
      const old = await keys.create({ subject: 'alice', scopes: ['s'], expiresAt: T0 + 1_000 });
      const { previous } = await keys.rotate(old.view.id, HOUR);
      assert.equal(previous.expiresAt, T0 + 1_000);
    } finally {
      await store.close();
    }
  });

  test('rotation with grace 0 ends the old key at once', async () => {
    const { store, keys } = setup();
    try {
      const old = await keys.create({ subject: 'alice', scopes: ['s'] });
      const { key, previous } = await keys.rotate(old.view.id, 0);
      assert.equal(previous.status, 'rotated');
      await refused(keys.verify(old.key), 'rotated', old.key);
      await keys.verify(key);
    } finally {
      await store.close();
    }
  });

  test('rotating twice, or a revoked, expired or missing key, is refused and writes nothing', async () => {
    const { store, clock, keys } = setup();
    try {
      const old = await keys.create({ subject: 'alice', scopes: ['s'], expiresAt: T0 + 10 * HOUR });
      const first = await keys.rotate(old.view.id, HOUR);
      const err = await refused(keys.rotate(old.view.id, HOUR), 'invalid_input');
      assert.match(err.message, /rotated already/);
      clock.now = T0 + 2 * HOUR;
      await refused(keys.rotate(old.view.id, HOUR), 'invalid_input', undefined);
      const second = await keys.rotate(first.view.id, 0);
      assert.equal(second.view.expiresAt, T0 + 10 * HOUR, 'a chain of rotations keeps the original expiry');

      const revoked = await keys.create({ subject: 'bob', scopes: ['s'] });
      await keys.revoke(revoked.view.id);
      assert.match((await refused(keys.rotate(revoked.view.id, HOUR), 'invalid_input')).message, /revoked/);

      const expiring = await keys.create({ subject: 'carol', scopes: ['s'], expiresAt: T0 + 3 * HOUR });
      clock.now = T0 + 3 * HOUR;
      assert.match((await refused(keys.rotate(expiring.view.id, HOUR), 'invalid_input')).message, /expired/);

      await refused(keys.rotate('AAAAAAAAAAAA', HOUR), 'not_found');
      await refused(keys.rotate(second.view.id, -1), 'invalid_input');
      assert.equal((await keys.list({ includeInactive: true })).length, 5, 'old, first, second, revoked, expiring: nothing else was written');
    } finally {
      await store.close();
    }
  });

  test('last use is written at most once per interval per key, without delaying verify', async () => {
    const { path, store, clock, keys } = setup({ touchIntervalMs: 60_000 });
    try {
      const { key, view } = await keys.create({ subject: 'alice', scopes: ['s'] });
      await keys.verify(key);
      await settle();
      assert.equal((await keys.get(view.id))?.lastUsedAt, T0);
      clock.now = T0 + 59_999;
      await keys.verify(key);
      await settle();
      assert.equal((await keys.get(view.id))?.lastUsedAt, T0, 'throttled');
      clock.now = T0 + 60_000;
      await keys.verify(key);
      await settle();
      assert.equal((await keys.get(view.id))?.lastUsedAt, T0 + 60_000);

      // Another gateway process (fresh memory) still skips the write: the stored last use is recent.
      const otherStore = new SqliteStore(path);
      try {
        const other = new ApiKeys(otherStore.apiKeys, { now: () => T0 + 61_000 });
        await other.verify(key);
        await settle();
        assert.equal((await keys.get(view.id))?.lastUsedAt, T0 + 60_000);
      } finally {
        await otherStore.close();
      }
    } finally {
      await store.close();
    }
  });

  test('a failing last-use write never fails verify; it is reported to onTouchError', async () => {
    const { store, keys } = setup();
    try {
      const { key, view } = await keys.create({ subject: 'alice', scopes: ['s'] });
      // The real store, with its write path broken the way a full disk breaks it.
      const broken: ApiKeyStore = Object.assign(Object.create(store.apiKeys) as ApiKeyStore, {
        touch: () => { throw new Error('SQLITE_FULL: database or disk is full'); },
      });
      const reported: string[] = [];
      const gateway = new ApiKeys(broken, { now: () => T0, onTouchError: (_err, id) => reported.push(id) });
      assert.equal((await gateway.verify(key)).id, view.id);
      await settle();
      assert.deepEqual(reported, [view.id]);
    } finally {
      await store.close();
    }
  });

  test('create retries with a new id when the drawn id is taken', async () => {
    const { store } = setup();
    try {
      let collisions = 0;
      // Makes the first drawn id collide for real: a row with that id is inserted just before.
      const colliding: ApiKeyStore = Object.assign(Object.create(store.apiKeys) as ApiKeyStore, {
        insert: async (record: ApiKeyRecord) => {
          if (collisions === 0) {
            collisions++;
            await store.apiKeys.insert({ ...record, subject: 'someone-else' });
          }
          return store.apiKeys.insert(record);
        },
      });
      const keys = new ApiKeys(colliding, { now: () => T0 });
      const { key, view } = await keys.create({ subject: 'alice', scopes: ['s'] });
      assert.equal(collisions, 1);
      assert.equal((await keys.verify(key)).subject, 'alice');
      assert.equal(view.subject, 'alice');
      assert.equal((await keys.list({})).length, 2);
    } finally {
      await store.close();
    }
  });

  test('create refuses a bad subject, tenant, name or expiry with invalid_input', async () => {
    const { store, keys } = setup();
    try {
      for (const input of [
        { subject: '' },
        { subject: 'x'.repeat(257) },
        { subject: 'alice\nadmin' },
        { subject: 'alice\u001b[31m' },
        { subject: 'alice', tenant: '' },
        { subject: 'alice', name: 'a\rb' },
        { subject: 'alice', scopes: [''] },
        { subject: 'alice', expiresAt: T0 },
        { subject: 'alice', expiresAt: T0 - 1 },
        { subject: 'alice', expiresAt: Number.NaN },
        { subject: undefined as unknown as string },
      ]) {
        await refused(keys.create(input), 'invalid_input');
      }
      assert.equal((await keys.create({ subject: 'x'.repeat(256), scopes: ['s'] })).view.subject.length, 256);
      assert.equal((await keys.list({ includeInactive: true })).length, 1);
    } finally {
      await store.close();
    }
  });

  test('a malformed or mistyped key is refused before any lookup, and the message never contains it', async () => {
    const { store, keys } = setup();
    try {
      const { key } = await keys.create({ subject: 'alice', scopes: ['s'] });
      await refused(keys.verify(key.slice(0, 40)), 'malformed', key.slice(0, 40));
      const typo = key.slice(0, 30) + (key[30] === 'x' ? 'y' : 'x') + key.slice(31);
      await refused(keys.verify(typo), 'bad_checksum', typo);
    } finally {
      await store.close();
    }
  });

  test('the store files hold neither any key nor any secret part, only hashes', async () => {
    const { path, store, clock, keys } = setup();
    const issued: string[] = [];
    try {
      for (const subject of ['alice', 'bob', 'carol']) {
        const { key, view } = await keys.create({ subject, scopes: ['s'], name: 'k' });
        issued.push(key);
        await keys.verify(key);
        clock.now += 61_000;
        issued.push((await keys.rotate(view.id, HOUR)).key);
      }
      await settle();
      const files = () => ['', '-wal', '-shm'].map((s) => `${path}${s}`).filter(existsSync).map((f) => readFileSync(f));
      const check = (when: string) => {
        const all = Buffer.concat(files());
        for (const key of issued) {
          assert.equal(all.indexOf(key), -1, `${when}: a key is in the store files`);
          assert.equal(all.indexOf(key.slice(16, 59)), -1, `${when}: a secret is in the store files`);
          assert.equal(all.indexOf(key.slice(16, 40)), -1, `${when}: part of a secret is in the store files`);
        }
        // Sanity: we are reading the right bytes.
        assert.ok(issued.some((k) => all.indexOf(hashApiKey(k)) !== -1), `${when}: the hashes should be there`);
      };
      check('while open');
      await store.close();
      check('after close');
    } finally {
      await store.close();
    }
  });
});
