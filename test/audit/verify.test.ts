import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite.js';
import { sealAuditRecord } from '../../src/audit/chain.js';
import { verifyAuditChain, verifyAuditChains, type VerifyResult } from '../../src/audit/verify.js';
import type { AuditRecord } from '../../src/audit/record.js';

const RECORDS = 200;
const T0 = Date.parse('2025-01-01T00:00:00.000Z');

let dir: string;
let original: string;
let originalHead: { seq: number; hash: string };
let n = 0;

function record(i: number, writer: string): AuditRecord {
  return {
    ts: new Date(T0 + i * 1_000).toISOString(), instance: writer, event: 'call', requestId: `r${i}`,
    subject: i % 3 === 0 ? 'bob' : 'alice', credential: { kind: 'api_key', id: `k${i % 4}` }, upstream: 'notes',
    method: 'tools/call', target: `tool_${i % 5}`, targetKind: 'tool', decision: i % 7 === 0 ? 'deny' : 'allow', reason: 'test',
  };
}

/** A copy of the intact chain's file, for one attack. */
function copyOfChain(): string {
  const target = join(dir, `copy${++n}`);
  mkdirSync(target);
  const path = join(target, 'warden.db');
  copyFileSync(original, path);
  if (existsSync(`${original}-wal`)) copyFileSync(`${original}-wal`, `${path}-wal`);
  return path;
}

/** Tampers with the file as an attacker with write access would: raw SQL, bypassing warden. */
function tamper(path: string, fn: (db: Database.Database) => void): void {
  const db = new Database(path);
  try {
    fn(db);
  } finally {
    db.close();
  }
}

async function verifyFile(path: string, options?: Parameters<typeof verifyAuditChain>[2]): Promise<VerifyResult> {
  const store = new SqliteStore(path);
  try {
    return await verifyAuditChain(store.audit, 'gw', options);
  } finally {
    await store.close();
  }
}

function assertProblem(result: VerifyResult, kind: string, seq: number): string {
  assert.equal(result.ok, false, 'the tampering is detected');
  if (result.ok) throw new Error('unreachable');
  assert.equal(result.problem.kind, kind, result.problem.detail);
  assert.equal(result.problem.seq, seq, result.problem.detail);
  return result.problem.detail;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'warden-verify-'));
  original = join(dir, 'original', 'warden.db');
  // Two connections on one file, as the gateway and the CLI are: each seals after what the other committed.
  const gateway = new SqliteStore(original);
  const cli = new SqliteStore(original);
  try {
    for (let i = 1; i <= RECORDS; i++) {
      const store = i % 2 ? gateway : cli;
      // One chain (one instance id) written through two connections, as a gateway and a CLI sharing audit.instance.
      const [row] = await store.audit.append('gw', [record(i, 'gw')], sealAuditRecord);
      assert.equal(row!.seq, i);
    }
    originalHead = await gateway.audit.head('gw');
  } finally {
    await gateway.close();
    await cli.close();
  }
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('verifyAuditChain', { concurrency: true }, () => {
  test('an intact chain written by two connections alternately verifies, page by page', async () => {
    const checked: number[] = [];
    const result = await verifyFile(copyOfChain(), { pageSize: 7, onProgress: (c: number) => checked.push(c) });
    assert.deepEqual(result, { ok: true, records: RECORDS, first: 1, head: originalHead });
    assert.equal(checked.at(-1), RECORDS);
    assert.ok(checked.length >= RECORDS / 7, 'reported progress after every page');
  });

  test('an empty chain verifies, with the genesis as its head', async () => {
    const store = new SqliteStore(join(dir, `empty${++n}`, 'warden.db'));
    try {
      assert.deepEqual(await verifyAuditChains(store.audit), { ok: true, records: 0, chains: [] });
      assert.deepEqual(await verifyAuditChain(store.audit, 'gw'), { ok: true, records: 0, head: { seq: 0, hash: '0'.repeat(64) } });
    } finally {
      await store.close();
    }
  });

  test('one field edited inside one record (a deny turned into an allow) is changed at that seq', async () => {
    const path = copyOfChain();
    tamper(path, (db) => {
      const { body } = db.prepare('SELECT body FROM audit_records WHERE seq = 70').get() as { body: string };
      assert.match(body, /"decision":"deny"/);
      db.prepare('UPDATE audit_records SET body = ? WHERE seq = 70').run(body.replace('"decision":"deny"', '"decision":"allow"'));
    });
    const detail = assertProblem(await verifyFile(path), 'changed', 70);
    assert.match(detail, /does not match its hash/);
    assert.ok(!detail.includes('"decision"'), 'the detail does not dump the body');
  });

  test('a record edited and re-hashed is changed at that seq, found through the next record', async () => {
    const path = copyOfChain();
    tamper(path, (db) => {
      const { body } = db.prepare('SELECT body FROM audit_records WHERE seq = 57').get() as { body: string };
      const forged = body.replace('"reason":"test"', '"reason":"nothing to see"');
      assert.notEqual(forged, body);
      db.prepare('UPDATE audit_records SET body = ?, hash = ? WHERE seq = 57').run(forged, sha256(forged));
    });
    // A small page size puts 57 and 58 in different pages: the link is checked across pages too.
    const detail = assertProblem(await verifyFile(path, { pageSize: 57 }), 'changed', 57);
    assert.match(detail, /re-hashed/);
    assert.match(detail, /58/);
  });

  test('a prev_hash column rewritten without its text is changed at that seq', async () => {
    const path = copyOfChain();
    tamper(path, (db) => db.prepare('UPDATE audit_records SET prev_hash = ? WHERE seq = 120').run('f'.repeat(64)));
    assertProblem(await verifyFile(path), 'changed', 120);
  });

  test('one record deleted from the middle is removed at that seq', async () => {
    const path = copyOfChain();
    tamper(path, (db) => db.prepare('DELETE FROM audit_records WHERE seq = 100').run());
    const detail = assertProblem(await verifyFile(path), 'removed', 100);
    assert.match(detail, /record 100 is missing/);
  });

  test('several records deleted from the middle name the first missing seq and the range', async () => {
    const path = copyOfChain();
    tamper(path, (db) => db.prepare('DELETE FROM audit_records WHERE seq BETWEEN 30 AND 39').run());
    const detail = assertProblem(await verifyFile(path), 'removed', 30);
    assert.match(detail, /records 30 to 39 are missing/);
  });

  test('the first records deleted are removed at seq 1: the chain must start right after its anchor', async () => {
    const path = copyOfChain();
    tamper(path, (db) => db.prepare('DELETE FROM audit_records WHERE seq <= 5').run());
    const detail = assertProblem(await verifyFile(path), 'removed', 1);
    assert.match(detail, /anchor is 0/);
  });

  test('the last record deleted is NOT visible to verify alone; the head it reports changes, which an operator who kept the head sees', async () => {
    const path = copyOfChain();
    tamper(path, (db) => db.prepare('DELETE FROM audit_records WHERE seq = ?').run(RECORDS));
    const result = await verifyFile(path);
    // Nothing after the last record points back to it: a cut tail is a shorter, valid chain.
    assert.equal(result.ok, true);
    if (!result.ok) return;
    assert.equal(result.records, RECORDS - 1);
    assert.notDeepEqual(result.head, originalHead);
    assert.equal(result.head.seq, RECORDS - 1);
  });

  test('the last record edited and re-hashed is likewise only visible through the recorded head', async () => {
    const path = copyOfChain();
    tamper(path, (db) => {
      const { body } = db.prepare('SELECT body FROM audit_records WHERE seq = ?').get(RECORDS) as { body: string };
      const forged = body.replace('"reason":"test"', '"reason":"forged"');
      db.prepare('UPDATE audit_records SET body = ?, hash = ? WHERE seq = ?').run(forged, sha256(forged), RECORDS);
    });
    const result = await verifyFile(path);
    assert.equal(result.ok, true);
    if (!result.ok) return;
    assert.equal(result.head.seq, originalHead.seq);
    assert.notEqual(result.head.hash, originalHead.hash);
  });

  test('two records whose seq values were swapped are reordered, naming where the record came from', async () => {
    const path = copyOfChain();
    tamper(path, (db) => {
      db.prepare('UPDATE audit_records SET seq = -1 WHERE seq = 80').run();
      db.prepare('UPDATE audit_records SET seq = 80 WHERE seq = 81').run();
      db.prepare('UPDATE audit_records SET seq = 81 WHERE seq = -1').run();
    });
    const detail = assertProblem(await verifyFile(path), 'reordered', 80);
    assert.match(detail, /record 81/);
    assert.match(detail, /moved from position 81/);
  });

  test('a body replaced by text that is not a record is changed, and the detail does not echo it', async () => {
    const path = copyOfChain();
    tamper(path, (db) => {
      // SQLite computes the generated columns on every write, so text that is not JSON cannot be stored at all.
      assert.throws(() => db.prepare("UPDATE audit_records SET body = 'junk' WHERE seq = 10").run(), /malformed JSON/);
      db.prepare(`UPDATE audit_records SET body = '["secret-looking junk"]' WHERE seq = 10`).run();
    });
    const detail = assertProblem(await verifyFile(path), 'changed', 10);
    assert.match(detail, /not a JSON object/);
    assert.ok(!detail.includes('junk'));
  });

  describe('after retention pruned the start', () => {
    async function prunedCopy(): Promise<string> {
      const path = copyOfChain();
      const store = new SqliteStore(path);
      try {
        // Records 1..50 are older than record 51's time.
        assert.equal(await store.audit.prune(T0 + 51 * 1_000), 50);
        assert.equal((await store.audit.scan('gw', 0, 1))[0]?.seq, 51, 'records 1 to 50 are gone');
        assert.equal((await store.audit.anchor('gw')).seq, 50);
      } finally {
        await store.close();
      }
      return path;
    }

    test('the rest of the chain still verifies from the anchor', async () => {
      assert.deepEqual(await verifyFile(await prunedCopy()), { ok: true, records: RECORDS - 50, first: 51, head: originalHead });
    });

    test('deleting the record right after the anchor is caught as removed', async () => {
      const path = await prunedCopy();
      tamper(path, (db) => db.prepare('DELETE FROM audit_records WHERE seq = 51').run());
      const detail = assertProblem(await verifyFile(path), 'removed', 51);
      assert.match(detail, /anchor is 50/);
    });

    test('an anchor rewritten to hide more deletions is changed at the anchor', async () => {
      const path = await prunedCopy();
      tamper(path, (db) => db.prepare("UPDATE audit_anchors SET hash = ? WHERE instance = 'gw'").run('c'.repeat(64)));
      const detail = assertProblem(await verifyFile(path), 'changed', 50);
      assert.match(detail, /anchor/);
    });
  });
});
