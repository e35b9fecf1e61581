import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AUDIT_PAGE, type AuditAdmin } from '../../src/admin/index.js';
import { sealAuditRecord, toAuditRecord } from '../../src/audit/index.js';
import { ANONYMOUS } from '../../src/shared/principal.js';
import type { Store } from '../../src/store/index.js';
import { refused, withAdmin } from '../helpers/admin.js';

/** `n` call records by alice and bob in turn, a minute apart, the last one `endAgoMs` ago. */
async function calls(store: Store, n: number, endAgoMs = 0): Promise<void> {
  const end = Date.now() - endAgoMs;
  const records = Array.from({ length: n }, (_, i) => toAuditRecord({
    requestId: `r${i}`, principal: { ...ANONYMOUS, subject: i % 2 === 0 ? 'alice' : 'bob' }, upstream: 'notes', method: 'tools/call',
    decision: i % 3 === 0 ? 'deny' : 'allow', reason: 'test',
  }, 'test', new Date(end - (n - 1 - i) * 60_000)));
  await store.audit.append('test', records, sealAuditRecord);
}

const seqs = (entries: { row: { seq: number } }[]): number[] => entries.map((e) => e.row.seq);

describe('admin audit', () => {
  test('a window that ends before it starts, or a limit out of range, is invalid_input', () => withAdmin(async ({ audit }) => {
    await assert.rejects(audit.query({ since: 2_000, until: 1_000 }, 10), refused('invalid_input', /--since must be earlier than --until/));
    await assert.rejects(audit.query({}, 0), refused('invalid_input', /from 1 to 10000/));
    await assert.rejects(audit.tail(10_001), refused('invalid_input', /from 0 to 10000/));
    await assert.rejects(audit.all({ since: 5, until: 5 }).next(), refused('invalid_input', /--since must be earlier/));
  }));

  test('query: the newest matches oldest first, and whether older ones were cut off; tail: the newest records', () => withAdmin(async ({ audit, store }) => {
    await calls(store, 6);
    const alice = await audit.query({ subject: 'alice' }, 2);
    assert.deepEqual([seqs(alice.entries), alice.more], [[3, 5], true]);
    assert.deepEqual(alice.entries.map((e) => e.record?.subject), ['alice', 'alice']);
    const denied = await audit.query({ decision: 'deny', since: Date.now() - 150_000 }, 10);
    assert.deepEqual([seqs(denied.entries), denied.more], [[4], false]);
    assert.deepEqual(seqs(await audit.tail(2)), [5, 6]);
    assert.deepEqual(await audit.tail(0), []);
    assert.deepEqual(seqs(await audit.after(new Map([['test', 4]]))), [5, 6]);
    assert.deepEqual(await audit.heads(), new Map([['test', 6]]));
    assert.equal((await audit.verify()).ok, true);
  }));

  test('all: every record a page at a time, in a window or not', () => withAdmin(async ({ audit, store }) => {
    await calls(store, AUDIT_PAGE + 5);
    const pages = async (a: AuditAdmin, window = {}) => {
      const sizes: number[] = [];
      for await (const page of a.all(window)) sizes.push(page.length);
      return sizes;
    };
    assert.deepEqual(await pages(audit), [AUDIT_PAGE, 5]);
    assert.deepEqual(await pages(audit, { since: Date.now() - 150_000 }), [3]);
  }));

  test('reading writes no admin record', () => withAdmin(async ({ audit, records }) => {
    await audit.query({}, 10);
    await audit.tail(5);
    assert.deepEqual(await records(), []);
  }));
});
