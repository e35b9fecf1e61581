import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite-migrations.js';
import { StoreError, type AuditRow } from '../../src/store/types.js';
import { GENESIS_HASH, sealAuditRecord } from '../../src/audit/chain.js';
import { verifyAuditChain } from '../../src/audit/verify.js';
import type { AuditRecord } from '../../src/audit/record.js';

let dir: string;
let n = 0;
const dbPath = (): string => join(dir, `t${++n}`, 'warden.db');
const T0 = Date.parse('2025-06-01T00:00:00.000Z');

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'warden-audit-store-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function record(i: number, overrides: Partial<AuditRecord> = {}): AuditRecord {
  return {
    ts: new Date(T0 + i * 60_000).toISOString(), instance: 'test', event: 'call', requestId: `r${i}`, subject: 'alice',
    credential: { kind: 'api_key', id: 'k1' }, method: 'tools/call', target: 'notes_get', decision: 'allow', reason: 'scope', ...overrides,
  };
}

const seqs = (rows: AuditRow[]) => rows.map((r) => r.seq);

/** 20 records, one a minute from T0: subjects, targets, decisions and events vary by seq. */
async function filledStore(): Promise<SqliteStore> {
  const store = new SqliteStore(dbPath());
  const records = Array.from({ length: 20 }, (_, i) =>
    record(i, {
      subject: i % 2 ? 'bob' : 'alice',
      target: i % 5 === 0 ? 'notes_delete' : 'notes_get',
      decision: i % 4 === 0 ? 'deny' : 'allow',
      event: i === 7 ? 'admin' : 'call',
    }));
  await store.audit.append(records, sealAuditRecord);
  return store;
}

describe('SqliteAuditStore', { concurrency: true }, () => {
  test('append seals each record after the newest one, in one transaction, and returns the rows as stored', async () => {
    const store = new SqliteStore(dbPath());
    try {
      assert.deepEqual(await store.audit.head(), { seq: 0, hash: GENESIS_HASH }, 'an empty chain starts at the genesis of audit/chain.ts');
      const rows = await store.audit.append([record(0), record(1)], sealAuditRecord);
      assert.deepEqual(seqs(rows), [1, 2]);
      assert.equal(rows[0]!.prevHash, GENESIS_HASH);
      assert.equal(rows[1]!.prevHash, rows[0]!.hash);
      assert.deepEqual(await store.audit.scan(0, 10), rows);
      assert.deepEqual(await store.audit.head(), { seq: 2, hash: rows[1]!.hash });
      assert.deepEqual(await store.audit.append([], sealAuditRecord), []);
    } finally {
      await store.close();
    }
  });

  test('a seal that throws in the middle of a batch leaves nothing of the batch behind', async () => {
    const store = new SqliteStore(dbPath());
    try {
      await store.audit.append([record(0)], sealAuditRecord);
      await assert.rejects(store.audit.append([record(1), record(2, { latencyMs: Number.NaN })], sealAuditRecord), /latencyMs/);
      assert.equal((await store.audit.head()).seq, 1);
    } finally {
      await store.close();
    }
  });

  test('the head is read in each transaction: a record appended by another process is sealed after', async () => {
    const path = dbPath();
    const gateway = new SqliteStore(path);
    const cli = new SqliteStore(path);
    try {
      const [a] = await gateway.audit.append([record(0)], sealAuditRecord);
      const [b] = await cli.audit.append([record(1)], sealAuditRecord);
      const [c] = await gateway.audit.append([record(2)], sealAuditRecord);
      assert.deepEqual([a!.seq, b!.seq, c!.seq], [1, 2, 3]);
      assert.equal(c!.prevHash, b!.hash);
    } finally {
      await gateway.close();
      await cli.close();
    }
  });

  describe('query', () => {
    let store: SqliteStore;
    before(async () => {
      store = await filledStore();
    });
    after(async () => {
      await store.close();
    });

    test('no filter: every record in seq order', async () => {
      assert.deepEqual(seqs(await store.audit.query({})), Array.from({ length: 20 }, (_, i) => i + 1));
    });

    test('by subject, target, decision and event, combined with AND', async () => {
      assert.deepEqual(seqs(await store.audit.query({ subject: 'bob' })), [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]);
      assert.deepEqual(seqs(await store.audit.query({ target: 'notes_delete' })), [1, 6, 11, 16]);
      assert.deepEqual(seqs(await store.audit.query({ decision: 'deny' })), [1, 5, 9, 13, 17]);
      assert.deepEqual(seqs(await store.audit.query({ event: 'admin' })), [8]);
      assert.deepEqual(seqs(await store.audit.query({ subject: 'bob', target: 'notes_get' })), [2, 4, 8, 10, 12, 14, 18, 20]);
      assert.deepEqual(seqs(await store.audit.query({ subject: 'alice', decision: 'deny', target: 'notes_get' })), [5, 9, 13, 17]);
      assert.deepEqual(await store.audit.query({ subject: 'nobody' }), []);
    });

    test('a filter value is data, not SQL', async () => {
      assert.deepEqual(await store.audit.query({ subject: "alice' OR '1'='1" }), []);
    });

    test('since is inclusive, until exclusive, compared as time', async () => {
      const at = (i: number) => T0 + i * 60_000;
      assert.deepEqual(seqs(await store.audit.query({ since: at(15) })), [16, 17, 18, 19, 20]);
      assert.deepEqual(seqs(await store.audit.query({ until: at(3) })), [1, 2, 3]);
      assert.deepEqual(seqs(await store.audit.query({ since: at(5), until: at(8) })), [6, 7, 8]);
      assert.deepEqual(seqs(await store.audit.query({ since: at(5) + 1, until: at(8) })), [7, 8]);
    });

    test('afterSeq, order and limit page through the chain, newest first for a tail', async () => {
      assert.deepEqual(seqs(await store.audit.query({ afterSeq: 17 })), [18, 19, 20]);
      assert.deepEqual(seqs(await store.audit.query({ order: 'desc', limit: 3 })), [20, 19, 18]);
      assert.deepEqual(seqs(await store.audit.query({ subject: 'bob', order: 'desc', limit: 2 })), [20, 18]);
      assert.deepEqual(seqs(await store.audit.query({ afterSeq: 5, limit: 2 })), [6, 7]);
      assert.deepEqual(await store.audit.query({ limit: 0 }), []);
    });

    test('the query columns are computed from the body: editing the body changes what a query finds', async () => {
      const path = dbPath();
      const own = new SqliteStore(path);
      try {
        await own.audit.append([record(0)], sealAuditRecord);
        const raw = new Database(path);
        raw.prepare("UPDATE audit_records SET body = replace(body, '\"subject\":\"alice\"', '\"subject\":\"eve\"')").run();
        raw.close();
        assert.deepEqual(seqs(await own.audit.query({ subject: 'eve' })), [1]);
        assert.deepEqual(await own.audit.query({ subject: 'alice' }), []);
        assert.throws(() => {
          const db = new Database(path);
          try {
            db.prepare("UPDATE audit_records SET subject = 'alice'").run();
          } finally {
            db.close();
          }
        }, /generated column/, 'a query column cannot be written apart from the body');
      } finally {
        await own.close();
      }
    });
  });

  describe('prune', () => {
    test('deletes the records older than the cut and moves the anchor to the last deleted one', async () => {
      const store = await filledStore();
      try {
        const [tenth] = await store.audit.query({ afterSeq: 9, limit: 1 });
        assert.equal(await store.audit.prune(T0 + 10 * 60_000), 10);
        assert.deepEqual(await store.audit.anchor(), { seq: 10, hash: tenth!.hash });
        assert.deepEqual(seqs(await store.audit.query({ limit: 1 })), [11]);
        assert.equal((await verifyAuditChain(store.audit)).ok, true);
        assert.equal(await store.audit.prune(T0 + 10 * 60_000), 0, 'nothing more to prune');
        assert.deepEqual((await store.audit.anchor()).seq, 10);
      } finally {
        await store.close();
      }
    });

    test('pruning everything keeps the head as anchor, and the next record continues the chain', async () => {
      const store = await filledStore();
      try {
        const head = await store.audit.head();
        assert.equal(await store.audit.prune(T0 + 24 * 3600_000), 20);
        assert.deepEqual(await store.audit.anchor(), head);
        assert.deepEqual(await store.audit.head(), head);
        const [next] = await store.audit.append([record(99)], sealAuditRecord);
        assert.equal(next!.seq, 21);
        assert.equal(next!.prevHash, head.hash);
        assert.deepEqual(await verifyAuditChain(store.audit), { ok: true, records: 1, first: 21, head: { seq: 21, hash: next!.hash } });
      } finally {
        await store.close();
      }
    });

    test('a record stamped by a skewed clock never makes prune delete newer records or leave a hole', async () => {
      const store = new SqliteStore(dbPath());
      try {
        // seq 3 comes from an instance whose clock is in 1970; seq 4 and 5 are old again.
        await store.audit.append([record(0), record(1), record(50), record(-9_000_000), record(2), record(3)], sealAuditRecord);
        assert.equal(await store.audit.prune(T0 + 10 * 60_000), 2, 'only the prefix before the first record still kept');
        assert.deepEqual(seqs(await store.audit.query({})), [3, 4, 5, 6]);
        assert.equal((await verifyAuditChain(store.audit)).ok, true);
      } finally {
        await store.close();
      }
    });

    test('an empty chain prunes nothing and keeps the genesis anchor', async () => {
      const store = new SqliteStore(dbPath());
      try {
        assert.equal(await store.audit.prune(Date.now()), 0);
        assert.deepEqual(await store.audit.anchor(), { seq: 0, hash: GENESIS_HASH });
      } finally {
        await store.close();
      }
    });
  });

  describe('schema', () => {
    test('migration 2 applies to a store file created at version 1, keeping its keys', async () => {
      const path = dbPath();
      const v1 = new SqliteStore(path, { migrations: SQLITE_MIGRATIONS.slice(0, 1) });
      assert.equal(v1.schemaVersion(), 1);
      await v1.apiKeys.insert({
        id: 'k1', hash: 'ab'.repeat(32), subject: 'alice', tenant: null, name: null, scopes: [], roles: [],
        createdAt: 1, expiresAt: null, lastUsedAt: null, revokedAt: null, replacedBy: null,
      });
      await assert.rejects(v1.audit.head(), (err: unknown) => err instanceof StoreError && /schema older than version 2/.test(err.message));
      await v1.close();

      const upgraded = new SqliteStore(path);
      try {
        assert.equal(upgraded.schemaVersion(), SQLITE_MIGRATIONS.at(-1)!.version);
        assert.equal((await upgraded.apiKeys.get('k1'))?.subject, 'alice');
        const [row] = await upgraded.audit.append([record(0)], sealAuditRecord);
        assert.equal(row!.seq, 1);
      } finally {
        await upgraded.close();
      }
    });

    test('the query columns are indexed (subject, target, ts)', async () => {
      const path = dbPath();
      await new SqliteStore(path).close();
      const db = new Database(path, { readonly: true });
      try {
        const plan = (sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join('; ');
        assert.match(plan("SELECT seq FROM audit_records WHERE subject = 'a' AND ts >= '2025'"), /audit_records_subject/);
        assert.match(plan("SELECT seq FROM audit_records WHERE target = 'a'"), /audit_records_target/);
        assert.match(plan("SELECT seq FROM audit_records WHERE ts >= '2025'"), /audit_records_ts/);
      } finally {
        db.close();
      }
    });

    test('synchronous is NORMAL by default, FULL on request, and nothing else reaches the pragma', async () => {
      const path = dbPath();
      const pragma = async (options?: ConstructorParameters<typeof SqliteStore>[1]) => {
        const store = new SqliteStore(path, options);
        try {
          // A per-connection setting, so it is read through the store's own connection. 1 = NORMAL, 2 = FULL.
          return (store as unknown as { db: Database.Database }).db.pragma('synchronous', { simple: true });
        } finally {
          await store.close();
        }
      };
      assert.equal(await pragma(), 1);
      assert.equal(await pragma({ synchronous: 'FULL' }), 2);
      await assert.rejects(pragma({ synchronous: 'OFF; DROP TABLE api_keys' as 'FULL' }), (err: unknown) => err instanceof StoreError);
    });

    test('audit calls on a closed store fail as unavailable', async () => {
      const store = new SqliteStore(dbPath());
      await store.close();
      await assert.rejects(store.audit.append([record(0)], sealAuditRecord), (err: unknown) => err instanceof StoreError && err.code === 'unavailable');
      await assert.rejects(store.audit.query({}), (err: unknown) => err instanceof StoreError && err.code === 'unavailable');
    });
  });
});
