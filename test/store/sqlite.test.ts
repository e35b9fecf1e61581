import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore, SQLITE_MIGRATIONS, StoreError } from '../../src/store/index.js';
import { apiKey, signingKey } from './contract.js';

let dir: string;
let n = 0;
/** A fresh store file per test, so that tests can run in any order. */
const dbPath = (): string => join(dir, `t${++n}`, 'warden.db');

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'warden-store-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('SqliteStore', { concurrency: true }, () => {
  describe('file and schema', () => {
    test('creates the parent directory and the file owner-only (0600), WAL file too', async () => {
      const path = dbPath();
      const store = new SqliteStore(path);
      try {
        await store.apiKeys.insert(apiKey('k1'));
        assert.equal(statSync(path).mode & 0o777, 0o600);
        assert.equal(statSync(join(path, '..')).isDirectory(), true);
        assert.equal(statSync(join(path, '..')).mode & 0o077, 0, 'the directory is not open to group or others');
        assert.equal(existsSync(`${path}-wal`), true, 'WAL mode, so that the CLI can write while the gateway reads');
        assert.equal(statSync(`${path}-wal`).mode & 0o777, 0o600);
      } finally {
        await store.close();
      }
    });

    test('migrations run once and are recorded; reopening applies nothing again', async () => {
      const path = dbPath();
      const first = new SqliteStore(path);
      assert.equal(first.schemaVersion(), SQLITE_MIGRATIONS.at(-1)!.version);
      await first.close();
      const read = () => {
        const db = new Database(path, { readonly: true });
        try {
          return db.prepare('SELECT version, name, applied_at FROM schema_migrations ORDER BY version').all();
        } finally {
          db.close();
        }
      };
      const recorded = read();
      assert.deepEqual(recorded.map((r) => (r as { version: number }).version), SQLITE_MIGRATIONS.map((m) => m.version));
      // A second run of migration 1 would fail on CREATE TABLE; and the record would change.
      const again = new SqliteStore(path);
      await again.close();
      assert.deepEqual(read(), recorded);
    });

    test('a newer migration is applied on open, the older ones are not run again', async () => {
      const path = dbPath();
      await new SqliteStore(path).close();
      const upgraded = new SqliteStore(path, {
        migrations: [...SQLITE_MIGRATIONS, { version: 99, name: 'test column', sql: 'ALTER TABLE api_keys ADD COLUMN note TEXT' }],
      });
      try {
        assert.equal(upgraded.schemaVersion(), 99);
      } finally {
        await upgraded.close();
      }
    });

    test('a file written by a newer warden is refused with schema_too_new and a hint to upgrade, unchanged', async () => {
      const path = dbPath();
      await new SqliteStore(path, { migrations: [...SQLITE_MIGRATIONS, { version: 99, name: 'future', sql: 'CREATE TABLE future (x INTEGER)' }] }).close();
      assert.throws(() => new SqliteStore(path), (err: unknown) => {
        assert.ok(err instanceof StoreError);
        assert.equal(err.code, 'schema_too_new');
        assert.match(err.message, /schema version 99/);
        assert.match(err.message, /upgrade warden/);
        return true;
      });
      const store = new SqliteStore(path, { migrations: [...SQLITE_MIGRATIONS, { version: 99, name: 'future', sql: 'CREATE TABLE future (x INTEGER)' }] });
      assert.equal(store.schemaVersion(), 99);
      await store.close();
    });

    test('an unwritable location is StoreError unavailable naming the path and the setting', () => {
      const blocker = join(dir, `blocker${++n}`);
      new Database(blocker).close(); // a file where a directory would have to be
      assert.throws(() => new SqliteStore(join(blocker, 'sub', 'warden.db')), (err: unknown) => {
        assert.ok(err instanceof StoreError);
        assert.equal(err.code, 'unavailable');
        assert.match(err.message, /store\.sqlite/);
        return true;
      });
    });
  });

  describe('api keys', () => {
    test('insert then get returns the same record; an id taken already is a conflict and changes nothing', async () => {
      const store = new SqliteStore(dbPath());
      try {
        const record = apiKey('k1', { tenant: 'acme', name: 'ci', roles: ['editor'], expiresAt: 9_000 });
        await store.apiKeys.insert(record);
        assert.deepEqual(await store.apiKeys.get('k1'), record);
        await assert.rejects(store.apiKeys.insert(apiKey('k1', { subject: 'mallory' })), (err: unknown) => {
          assert.ok(err instanceof StoreError);
          assert.equal(err.code, 'conflict');
          return true;
        });
        assert.equal((await store.apiKeys.get('k1'))?.subject, 'alice');
        assert.equal(await store.apiKeys.get('absent'), undefined);
      } finally {
        await store.close();
      }
    });

    test('list filters by subject and tenant, leaves out inactive keys unless asked, newest first', async () => {
      const store = new SqliteStore(dbPath());
      try {
        await store.apiKeys.insert(apiKey('a', { createdAt: 1 }));
        await store.apiKeys.insert(apiKey('b', { createdAt: 2, tenant: 'acme' }));
        await store.apiKeys.insert(apiKey('c', { createdAt: 3, subject: 'bob', expiresAt: 50 }));
        await store.apiKeys.insert(apiKey('d', { createdAt: 4, revokedAt: 10 }));
        const ids = async (f: Parameters<typeof store.apiKeys.list>[0]) => (await store.apiKeys.list(f, 100)).map((k) => k.id);
        assert.deepEqual(await ids({}), ['b', 'a']);
        assert.deepEqual(await ids({ includeInactive: true }), ['d', 'c', 'b', 'a']);
        assert.deepEqual(await ids({ subject: 'bob', includeInactive: true }), ['c']);
        assert.deepEqual(await ids({ tenant: 'acme' }), ['b']);
        assert.deepEqual((await store.apiKeys.list({}, 40)).map((k) => k.id), ['c', 'b', 'a'], 'not yet expired at 40');
      } finally {
        await store.close();
      }
    });

    test('revoke keeps the first revocation time; a missing key is false', async () => {
      const store = new SqliteStore(dbPath());
      try {
        await store.apiKeys.insert(apiKey('k1'));
        assert.equal(await store.apiKeys.revoke('k1', 10), true);
        assert.equal(await store.apiKeys.revoke('k1', 20), true);
        assert.equal((await store.apiKeys.get('k1'))?.revokedAt, 10);
        assert.equal(await store.apiKeys.revoke('absent', 10), false);
      } finally {
        await store.close();
      }
    });

    test('touch never moves last use backwards', async () => {
      const store = new SqliteStore(dbPath());
      try {
        await store.apiKeys.insert(apiKey('k1'));
        await store.apiKeys.touch('k1', 500);
        await store.apiKeys.touch('k1', 300);
        assert.equal((await store.apiKeys.get('k1'))?.lastUsedAt, 500);
      } finally {
        await store.close();
      }
    });

    test('rotate inserts the replacement and cuts the old expiry in one step', async () => {
      const store = new SqliteStore(dbPath());
      try {
        await store.apiKeys.insert(apiKey('old', { expiresAt: 10_000 }));
        assert.equal(await store.apiKeys.rotate('old', apiKey('new', { expiresAt: 10_000 }), 5_000), true);
        const old = await store.apiKeys.get('old');
        assert.equal(old?.replacedBy, 'new');
        assert.equal(old?.expiresAt, 5_000);
        assert.equal((await store.apiKeys.get('new'))?.expiresAt, 10_000);
        // The old expiry is never extended by a long grace period.
        await store.apiKeys.insert(apiKey('short', { expiresAt: 2_000 }));
        assert.equal(await store.apiKeys.rotate('short', apiKey('short2'), 5_000), true);
        assert.equal((await store.apiKeys.get('short'))?.expiresAt, 2_000);
      } finally {
        await store.close();
      }
    });

    test('rotate is all-or-nothing: a revoked, rotated or missing key, or a clashing replacement id, changes nothing', async () => {
      const store = new SqliteStore(dbPath());
      try {
        await store.apiKeys.insert(apiKey('revoked', { revokedAt: 5 }));
        assert.equal(await store.apiKeys.rotate('revoked', apiKey('r2'), 5_000), false);
        assert.deepEqual(await store.apiKeys.get('revoked'), apiKey('revoked', { revokedAt: 5 }));
        assert.equal(await store.apiKeys.get('r2'), undefined, 'no replacement was inserted');

        await store.apiKeys.insert(apiKey('old'));
        assert.equal(await store.apiKeys.rotate('old', apiKey('new'), 5_000), true);
        assert.equal(await store.apiKeys.rotate('old', apiKey('newer'), 1_000), false, 'rotated already');
        assert.equal(await store.apiKeys.get('newer'), undefined);
        assert.equal((await store.apiKeys.get('old'))?.expiresAt, 5_000);

        assert.equal(await store.apiKeys.rotate('absent', apiKey('x'), 5_000), false);
        assert.equal(await store.apiKeys.get('x'), undefined);

        await store.apiKeys.insert(apiKey('taken'));
        await store.apiKeys.insert(apiKey('victim'));
        await assert.rejects(store.apiKeys.rotate('victim', apiKey('taken'), 5_000), (err: unknown) => err instanceof StoreError && err.code === 'conflict');
        assert.deepEqual(await store.apiKeys.get('victim'), apiKey('victim'), 'the old key was rolled back');
      } finally {
        await store.close();
      }
    });

    test('a revocation written through a second connection is seen by the first at once', async () => {
      const path = dbPath();
      const gateway = new SqliteStore(path);
      const cli = new SqliteStore(path);
      try {
        await gateway.apiKeys.insert(apiKey('k1'));
        assert.equal(await cli.apiKeys.revoke('k1', 7), true);
        assert.equal((await gateway.apiKeys.get('k1'))?.revokedAt, 7);
      } finally {
        await cli.close();
        await gateway.close();
      }
    });
  });

  describe('signing keys', () => {
    test('insert, list newest first by use, retire; a retired key stays published after publishedSince', async () => {
      const store = new SqliteStore(dbPath());
      try {
        await store.signingKeys.insert(signingKey('k1', { createdAt: 1 }));
        await store.signingKeys.insert(signingKey('k2', { createdAt: 2 }));
        await store.signingKeys.insert(signingKey('other', { use: 'oauth', createdAt: 3 }));
        const kids = async (since: number) => (await store.signingKeys.list('upstream-identity', since)).map((k) => k.kid);
        assert.deepEqual(await kids(0), ['k2', 'k1']);
        assert.deepEqual(await store.signingKeys.list('upstream-identity', 0).then((l) => l[1]), signingKey('k1', { createdAt: 1 }));

        assert.equal(await store.signingKeys.retire('k1', 100), true);
        assert.equal(await store.signingKeys.retire('k1', 200), false, 'retired already: the first time stands');
        assert.equal(await store.signingKeys.retire('absent', 100), false);
        assert.deepEqual(await kids(50), ['k2', 'k1'], 'retired at 100, still published for tokens signed before');
        assert.deepEqual(await kids(100), ['k2'], 'retired at or before publishedSince: gone');
        assert.equal((await store.signingKeys.list('upstream-identity', 0))[1]?.retiredAt, 100);

        await assert.rejects(store.signingKeys.insert(signingKey('k2')), (err: unknown) => err instanceof StoreError && err.code === 'conflict');
      } finally {
        await store.close();
      }
    });
  });
});
