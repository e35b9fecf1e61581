import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite-migrations.js';
import { LEGACY_AUDIT_CHAIN, StoreError, type AuditRow } from '../../src/store/types.js';
import { GENESIS_HASH, sealAuditRecord } from '../../src/audit/chain.js';
import { verifyAuditChains } from '../../src/audit/verify.js';
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

describe('SqliteAuditStore', { concurrency: true }, () => {
    test('the query columns are computed from the body: editing the body changes what a query finds', async () => {
      const path = dbPath();
      const own = new SqliteStore(path);
      try {
        await own.audit.append('test', [record(0)], sealAuditRecord);
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

  describe('a store file written before chains were per instance', () => {
    /** Rows as the code before migration 4 wrote them: one chain, seq global, whoever wrote. */
    async function oldFile(instances: string[], prune?: number): Promise<string> {
      const path = dbPath();
      const v3 = new SqliteStore(path, { migrations: SQLITE_MIGRATIONS.slice(0, 3) });
      await v3.close();
      const db = new Database(path);
      try {
        let prev = GENESIS_HASH;
        const insert = db.prepare('INSERT INTO audit_records (seq, body, prev_hash, hash) VALUES (?, ?, ?, ?)');
        instances.forEach((instance, i) => {
          const { body, hash } = sealAuditRecord(i + 1, prev, record(i, { instance }));
          insert.run(i + 1, body, prev, hash);
          prev = hash;
        });
        if (prune !== undefined) {
          const last = db.prepare('SELECT seq, hash FROM audit_records WHERE seq = ?').get(prune) as { seq: number; hash: string };
          db.prepare('DELETE FROM audit_records WHERE seq <= ?').run(prune);
          db.prepare('INSERT INTO audit_anchor (id, seq, hash) VALUES (1, ?, ?)').run(last.seq, last.hash);
        }
      } finally {
        db.close();
      }
      return path;
    }

    test('records of several writers stay one chain under the legacy name, and still verify', async () => {
      const path = await oldFile(['host:100', 'host:200', 'host:100', 'host:300'], 1);
      const store = new SqliteStore(path);
      try {
        const chains = await store.audit.chains();
        assert.deepEqual(chains.map((c) => [c.instance, c.anchor.seq, c.head.seq]), [[LEGACY_AUDIT_CHAIN, 1, 4]]);
        const result = await verifyAuditChains(store.audit);
        assert.equal(result.ok, true, JSON.stringify(result));
        assert.equal(result.records, 3);
        // New records go to their instance's own chain, from the genesis.
        const [row] = await store.audit.append('host:400', [record(9, { instance: 'host:400' })], sealAuditRecord);
        assert.deepEqual([row!.seq, row!.prevHash], [1, GENESIS_HASH]);
        assert.equal((await verifyAuditChains(store.audit)).ok, true);
        // The merged query still finds the old records, by their text.
        assert.equal((await store.audit.query({ subject: 'alice' })).length, 4);
      } finally {
        await store.close();
      }
    });

    test('records of one writer become that instance\'s chain, which it continues', async () => {
      const path = await oldFile(['gw-1', 'gw-1', 'gw-1']);
      const store = new SqliteStore(path);
      try {
        assert.deepEqual((await store.audit.chains()).map((c) => [c.instance, c.head.seq]), [['gw-1', 3]]);
        const [row] = await store.audit.append('gw-1', [record(5, { instance: 'gw-1' })], sealAuditRecord);
        assert.equal(row!.seq, 4);
        const result = await verifyAuditChains(store.audit);
        assert.equal(result.ok, true, JSON.stringify(result));
        assert.equal(result.records, 4);
      } finally {
        await store.close();
      }
    });

    test('a record of the old chain changed before the upgrade is still caught after it (control for the two above)', async () => {
      const path = await oldFile(['a', 'b', 'a']);
      const raw = new Database(path);
      raw.prepare("UPDATE audit_records SET body = replace(body, '\"subject\":\"alice\"', '\"subject\":\"eve\"') WHERE seq = 2").run();
      raw.close();
      const store = new SqliteStore(path);
      try {
        const result = await verifyAuditChains(store.audit);
        assert.equal(result.ok, false);
        assert.equal(!result.chains[0]!.ok && result.chains[0]!.problem.seq, 2);
      } finally {
        await store.close();
      }
    });
  });

  describe('schema', () => {
    test('the audit migrations apply to a store file created at version 1, keeping its keys', async () => {
      const path = dbPath();
      const v1 = new SqliteStore(path, { migrations: SQLITE_MIGRATIONS.slice(0, 1) });
      assert.equal(v1.schemaVersion(), 1);
      await v1.apiKeys.insert({
        id: 'k1', hash: 'ab'.repeat(32), subject: 'alice', tenant: null, name: null, scopes: [], roles: [],
        createdAt: 1, expiresAt: null, lastUsedAt: null, revokedAt: null, replacedBy: null,
      });
      await assert.rejects(v1.audit.head('test'), (err: unknown) => err instanceof StoreError && /schema older than version 4/.test(err.message));
      await v1.close();

      const upgraded = new SqliteStore(path);
      try {
        assert.equal(upgraded.schemaVersion(), SQLITE_MIGRATIONS.at(-1)!.version);
        assert.equal((await upgraded.apiKeys.get('k1'))?.subject, 'alice');
        const [row] = await upgraded.audit.append('test', [record(0)], sealAuditRecord);
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
        assert.match(plan('SELECT seq FROM audit_records ORDER BY ts DESC, instance DESC, seq DESC LIMIT 20'), /audit_records_ts/, 'a tail reads the index, not the table');
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
      await assert.rejects(store.audit.append('test', [record(0)], sealAuditRecord), (err: unknown) => err instanceof StoreError && err.code === 'unavailable');
      await assert.rejects(store.audit.query({}), (err: unknown) => err instanceof StoreError && err.code === 'unavailable');
    });
  });
});
