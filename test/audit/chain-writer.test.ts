import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite.js';
import { StoreError } from '../../src/store/types.js';
import { CountingAuditStore } from '../helpers/counting-audit-store.js';
import { AuditChainWriter } from '../../src/audit/chain-writer.js';
import { AuditChainError } from '../../src/audit/chain.js';
import { verifyAuditChain, verifyAuditChains } from '../../src/audit/verify.js';
import type { AuditRecord } from '../../src/audit/record.js';

let dir: string;
let n = 0;
const dbPath = (): string => join(dir, `t${++n}`, 'warden.db');

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'warden-chain-writer-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function record(i: number, overrides: Partial<AuditRecord> = {}): AuditRecord {
  return {
    ts: new Date(Date.UTC(2025, 0, 1) + i).toISOString(), instance: 'test', event: 'call', requestId: `r${i}`,
    subject: 'alice', credential: { kind: 'api_key', id: 'k1' }, method: 'tools/call', target: 'echo',
    decision: 'allow', reason: 'scope', ...overrides,
  };
}

describe('AuditChainWriter', { concurrency: true }, () => {
  test('1000 concurrent appends get contiguous seq in call order, in a few transactions, and the chain verifies', async () => {
    const store = new SqliteStore(dbPath());
    const counted = new CountingAuditStore(store.audit);
    const writer = new AuditChainWriter(counted);
    try {
      const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => writer.append(record(i))));
      assert.deepEqual(results.map((r) => r.seq), Array.from({ length: 1000 }, (_, i) => i + 1));
      assert.deepEqual(results.map((r) => r.requestId), Array.from({ length: 1000 }, (_, i) => `r${i}`), 'seq follows the order of append calls');
      assert.ok(counted.transactions <= 4, `1000 records in ${counted.transactions} transactions`);
      assert.ok(Math.max(...counted.batchSizes) <= 512, 'no batch above maxBatch');
      const verified = await verifyAuditChain(store.audit, 'test');
      assert.equal(verified.ok, true);
      assert.equal(verified.records, 1000);
      assert.deepEqual(verified.ok && verified.head, { seq: 1000, hash: results.at(-1)!.hash });
    } finally {
      await writer.close();
      await store.close();
    }
  });

  test('appends spread over many event-loop turns still come out contiguous and in order', async () => {
    const store = new SqliteStore(dbPath());
    const writer = new AuditChainWriter(store.audit, { maxBatch: 16 });
    try {
      const pending: Promise<{ seq: number }>[] = [];
      for (let i = 0; i < 300; i++) {
        pending.push(writer.append(record(i)));
        if (i % 7 === 0) await new Promise((r) => setImmediate(r));
      }
      const seqs = (await Promise.all(pending)).map((r) => r.seq);
      assert.deepEqual(seqs, Array.from({ length: 300 }, (_, i) => i + 1));
      assert.equal((await verifyAuditChains(store.audit)).ok, true);
    } finally {
      await store.close();
    }
  });

  test('a caller resolves only once its record is committed: another connection sees it then', async () => {
    const path = dbPath();
    const store = new SqliteStore(path);
    const reader = new SqliteStore(path);
    const writer = new AuditChainWriter(store.audit);
    try {
      const seen = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
        const chained = await writer.append(record(i));
        const rows = await reader.audit.scan('test', chained.seq - 1, 1);
        return rows[0]?.hash === chained.hash;
      }));
      assert.ok(seen.every(Boolean));
    } finally {
      await store.close();
      await reader.close();
    }
  });

  test('the resolved record carries its chain fields and matches the stored body', async () => {
    const store = new SqliteStore(dbPath());
    const writer = new AuditChainWriter(store.audit);
    try {
      const a = await writer.append(record(1, { latencyMs: 3.25, arguments: { path: '/x' } }));
      const b = await writer.append(record(2));
      assert.equal(a.prevHash, '0'.repeat(64));
      assert.equal(b.prevHash, a.hash);
      const [row] = await store.audit.scan('test', 0, 1);
      const { seq, prevHash, hash, ...rest } = a;
      assert.deepEqual(JSON.parse(row!.body), { ...rest, seq, prevHash });
      assert.equal(row!.hash, hash);
    } finally {
      await store.close();
    }
  });

  test('without group commit every record is its own transaction, still in call order', async () => {
    const store = new SqliteStore(dbPath());
    const counted = new CountingAuditStore(store.audit);
    const writer = new AuditChainWriter(counted, { groupCommit: false });
    try {
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => writer.append(record(i))));
      assert.deepEqual(results.map((r) => r.seq), Array.from({ length: 40 }, (_, i) => i + 1));
      assert.equal(counted.transactions, 40);
    } finally {
      await store.close();
    }
  });

  test('fail closed: a commit that fails (store closed) rejects every pending caller of that batch', async () => {
    const store = new SqliteStore(dbPath());
    const writer = new AuditChainWriter(store.audit);
    await writer.append(record(0));
    const pending = Array.from({ length: 25 }, (_, i) => writer.append(record(i + 1)));
    await store.close(); // before the batch's setImmediate runs
    const settled = await Promise.allSettled(pending);
    assert.equal(settled.length, 25);
    for (const s of settled) {
      assert.equal(s.status, 'rejected');
      const reason = (s as PromiseRejectedResult).reason as unknown;
      assert.ok(reason instanceof StoreError);
      assert.equal(reason.code, 'unavailable');
    }
    await writer.flush(); // settles even though its records failed
  });

  test('a record that cannot be serialized is refused alone; the records appended with it commit', async () => {
    const store = new SqliteStore(dbPath());
    const writer = new AuditChainWriter(store.audit);
    try {
      const before = writer.append(record(1));
      const bad = writer.append(record(2, { latencyMs: Number.NaN }));
      const afterIt = writer.append(record(3));
      await assert.rejects(bad, (err: unknown) => err instanceof AuditChainError && err.code === 'not_serializable');
      assert.deepEqual([(await before).seq, (await afterIt).seq], [1, 2]);
      assert.equal((await verifyAuditChains(store.audit)).ok, true);
    } finally {
      await store.close();
    }
  });

  test('close waits for pending records, then refuses new ones; the store stays open for its other users', async () => {
    const store = new SqliteStore(dbPath());
    const writer = new AuditChainWriter(store.audit);
    try {
      const pending = Array.from({ length: 10 }, (_, i) => writer.append(record(i)));
      await writer.close();
      assert.equal((await store.audit.head('test')).seq, 10);
      assert.equal((await Promise.all(pending)).length, 10);
      await assert.rejects(writer.append(record(11)), (err: unknown) => err instanceof AuditChainError && err.code === 'closed');
      assert.equal((await store.audit.query({})).length, 10);
    } finally {
      await store.close();
    }
  });

  test('two writers on two connections of one file interleave into one valid chain', async () => {
    const path = dbPath();
    const a = new SqliteStore(path);
    const b = new SqliteStore(path);
    const wa = new AuditChainWriter(a.audit);
    const wb = new AuditChainWriter(b.audit);
    try {
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? wa : wb).append(record(i))));
      assert.deepEqual(results.map((r) => r.seq).sort((x, y) => x - y), Array.from({ length: 200 }, (_, i) => i + 1));
      const verified = await verifyAuditChains(a.audit);
      assert.equal(verified.ok, true);
      assert.equal(verified.records, 200);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
