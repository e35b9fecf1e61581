import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  AuditChainError, GENESIS_HASH, PreparedAuditRecord, canonicalJson, parseAuditRow, sealAuditRecord,
} from '../../src/audit/chain.js';
import type { AuditRecord } from '../../src/audit/record.js';

function record(overrides: Partial<AuditRecord> = {}): AuditRecord {
  return {
    ts: '2025-03-01T12:00:00.000Z', instance: 'host:1', event: 'call', requestId: 'r1', subject: 'alice',
    credential: { kind: 'api_key', id: 'k1' }, upstream: 'notes', method: 'tools/call', target: 'notes_get',
    targetKind: 'tool', decision: 'allow', reason: 'scope notes:read', ...overrides,
  };
}

const throwsNotSerializable = (fn: () => unknown, path: RegExp) =>
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AuditChainError);
    assert.equal(err.code, 'not_serializable');
    assert.match(err.message, path);
    return true;
  });

describe('canonicalJson', () => {
  test('the same value gives the same text whatever order its keys were added in, at every level', () => {
    const a = { b: 1, a: { y: [1, { q: 1, p: 2 }], x: 'x' }, c: null };
    const b = { c: null, a: { x: 'x', y: [1, { p: 2, q: 1 }] }, b: 1 };
    assert.equal(canonicalJson(a), canonicalJson(b));
    assert.equal(canonicalJson(a), '{"a":{"x":"x","y":[1,{"p":2,"q":1}]},"b":1,"c":null}');
  });

  test('no whitespace, arrays keep their order, primitives as JSON.stringify writes them', () => {
    assert.equal(canonicalJson([3, 1, 2]), '[3,1,2]');
    assert.equal(canonicalJson({ n: 1.5e-7, t: true, f: false, s: 'a "q" \\ \n' }), `{"f":false,"n":1.5e-7,"s":${JSON.stringify('a "q" \\ \n')},"t":true}`);
    assert.equal(canonicalJson(-0), '0');
    assert.equal(canonicalJson('x'), '"x"');
  });

  test('unicode text survives, and keys sort by UTF-16 code unit (as RFC 8785 does)', () => {
    const value = { 'é': 'café ☕ 𝄞', e: '\u2028', '\u{1F600}': 1, z: 2 };
    const text = canonicalJson(value);
    assert.deepEqual(JSON.parse(text), value);
    assert.deepEqual(Object.keys(JSON.parse(text) as object), ['e', 'z', 'é', '\u{1F600}']);
    // A lone surrogate is escaped rather than written as invalid UTF-8, so the hash input is well defined.
    assert.equal(canonicalJson('\ud800'), '"\\ud800"');
  });

  test('integer-like keys sort as text too (JS objects enumerate them numerically), odd keys are escaped', () => {
    assert.equal(canonicalJson({ 9: 'a', 10: 'b', 'a"b': 1, '': 0 }), '{"":0,"10":"b","9":"a","a\\"b":1}');
  });

  test('undefined properties are left out; undefined in an array becomes null, as in JSON.stringify', () => {
    assert.equal(canonicalJson({ a: undefined, b: 1 }), '{"b":1}');
    assert.equal(canonicalJson([undefined, 1]), '[null,1]');
  });

  test('refuses NaN, Infinity, bigint, functions and cycles instead of writing a body that does not parse back', () => {
    throwsNotSerializable(() => canonicalJson({ latencyMs: Number.NaN }), /\$\.latencyMs is NaN/);
    throwsNotSerializable(() => canonicalJson({ a: [1, Number.POSITIVE_INFINITY] }), /\$\.a\[1\] is Infinity/);
    throwsNotSerializable(() => canonicalJson({ a: 1n }), /bigint/);
    throwsNotSerializable(() => canonicalJson({ a: () => 1 }), /function/);
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = { back: cyclic };
    throwsNotSerializable(() => canonicalJson(cyclic), /refers to itself/);
  });

  test('a value reached twice without a cycle is fine', () => {
    const shared = { x: 1 };
    assert.equal(canonicalJson({ a: shared, b: shared }), '{"a":{"x":1},"b":{"x":1}}');
  });
});

describe('sealAuditRecord / parseAuditRow', () => {
  test('the body is canonicalJson of the record with its own seq and prevHash; the hash is SHA-256 of the body', () => {
    const r = record({ arguments: { z: 1, a: [true, null] } });
    const { body, hash } = sealAuditRecord(7, 'ab'.repeat(32), r);
    assert.equal(body, canonicalJson({ ...r, seq: 7, prevHash: 'ab'.repeat(32) }));
    assert.equal(hash, createHash('sha256').update(body).digest('hex'));
    assert.match(body, /"prevHash":"(ab){32}"/);
    assert.match(body, /"seq":7[,}]/);
  });

  test('a prepared record seals to exactly the same text as the plain record', () => {
    const r = record({ status: 200, latencyMs: 12.5, ip: '10.0.0.1' });
    assert.deepEqual(sealAuditRecord(1, GENESIS_HASH, PreparedAuditRecord.of(r)), sealAuditRecord(1, GENESIS_HASH, r));
  });

  test('a record cannot claim its own place or hash: seq, prevHash and hash come from the chain', () => {
    const forged = { ...record(), seq: 1, prevHash: 'f'.repeat(64), hash: 'e'.repeat(64) };
    const { body } = sealAuditRecord(42, GENESIS_HASH, forged);
    const parsed = JSON.parse(body) as Record<string, unknown>;
    assert.equal(parsed.seq, 42);
    assert.equal(parsed.prevHash, GENESIS_HASH);
    assert.equal('hash' in parsed, false);
  });

  test('changing any field changes the hash', () => {
    const base = sealAuditRecord(3, GENESIS_HASH, record()).hash;
    assert.notEqual(sealAuditRecord(3, GENESIS_HASH, record({ decision: 'deny' })).hash, base);
    assert.notEqual(sealAuditRecord(4, GENESIS_HASH, record()).hash, base);
    assert.notEqual(sealAuditRecord(3, '1'.repeat(64), record()).hash, base);
  });

  test('seal then parse gives back the record with its chain fields', () => {
    const r = record({ tenant: 'acme', arguments: { q: 'ünïcode' } });
    const { body, hash } = sealAuditRecord(9, GENESIS_HASH, r);
    assert.deepEqual(parseAuditRow({ instance: 'test', seq: 9, prevHash: GENESIS_HASH, hash, body }), { ...r, seq: 9, prevHash: GENESIS_HASH, hash });
  });

  test('a row whose body is not a JSON object is refused as corrupt_row, without echoing the body', () => {
    for (const body of ['{"secret":', '[1,2]', 'null']) {
      assert.throws(() => parseAuditRow({ instance: 'test', seq: 5, prevHash: GENESIS_HASH, hash: 'x', body }), (err: unknown) => {
        assert.ok(err instanceof AuditChainError);
        assert.equal(err.code, 'corrupt_row');
        assert.match(err.message, /record 5/);
        assert.ok(!err.message.includes('secret'));
        return true;
      });
    }
  });

  test('sealing a record that is not an object is refused', () => {
    throwsNotSerializable(() => sealAuditRecord(1, GENESIS_HASH, 'text'), /must be an object/);
    throwsNotSerializable(() => sealAuditRecord(1, GENESIS_HASH, record({ latencyMs: Number.NaN })), /latencyMs/);
  });
});
