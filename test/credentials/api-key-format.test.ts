import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  API_KEY_PATTERN, API_KEY_PREFIX, CredentialError, generateApiKey, hashApiKey, parseApiKey, type CredentialErrorCode,
} from '../../src/credentials/index.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Asserts `fn` throws a CredentialError of `code` whose message does not contain `key` (nor its secret part). */
function assertRefused(fn: () => unknown, code: CredentialErrorCode, key: string): CredentialError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof CredentialError, `expected a CredentialError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.equal(caught.name, 'CredentialError');
  if (key.trim().length >= 8) {
    assert.ok(!caught.message.includes(key.trim()), 'the message must not contain the key');
    const secret = key.trim().slice(16, 59);
    if (secret.length >= 8) assert.ok(!caught.message.includes(secret), 'the message must not contain the secret');
  }
  return caught;
}

describe('API key format', () => {
  test('wdn_ + 61 base62 characters, 65 in all, matching the published scanner pattern', () => {
    const { id, key } = generateApiKey();
    assert.equal(key.length, 65);
    assert.ok(key.startsWith(API_KEY_PREFIX));
    assert.match(key, API_KEY_PATTERN);
    assert.match(key, /^wdn_[0-9A-Za-z]{61}$/);
    assert.match(id, /^[0-9A-Za-z]{12}$/);
    assert.equal(key.slice(4, 16), id, 'the id is embedded right after the prefix');
    assert.deepEqual(parseApiKey(key), { id });
  });

  test('the pattern is anchored: a key inside other text does not match it as a whole', () => {
    const { key } = generateApiKey();
    assert.equal(API_KEY_PATTERN.test(` ${key}`), false);
    assert.equal(API_KEY_PATTERN.test(`${key}x`), false);
  });

  test('the checksum is the first 4 bytes of SHA-256 over prefix + id + secret, as 6 base62 digits', () => {
    const { key } = generateApiKey();
    let n = createHash('sha256').update(key.slice(0, 59)).digest().readUInt32BE(0);
    let expected = '';
    for (let i = 0; i < 6; i++) {
      expected = BASE62[n % 62] + expected;
      n = Math.floor(n / 62);
    }
    assert.equal(key.slice(59), expected);
  });

  test('keys and ids do not repeat', () => {
    const keys = new Set<string>();
    const ids = new Set<string>();
    for (let i = 0; i < 2_000; i++) {
      const { id, key } = generateApiKey();
      keys.add(key);
      ids.add(id);
    }
    assert.equal(keys.size, 2_000);
    assert.equal(ids.size, 2_000);
  });

  test('entropy sanity: secrets use the whole alphabet, roughly evenly (no modulo bias toward 0-7)', () => {
    const counts = new Map<string, number>();
    const samples = 4_000;
    for (let i = 0; i < samples; i++) {
      for (const c of generateApiKey().key.slice(16, 59)) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    assert.equal(counts.size, 62, 'every base62 character appears');
    const expected = (samples * 43) / 62; // ≈ 2774, standard deviation ≈ 53
    for (const [c, count] of counts) {
      // ±12 % is > 6 standard deviations, so a uniform generator does not fail this; `byte % 62` without
      // rejection would, since it makes 0-7 about 21 % likelier than the mean.
      assert.ok(Math.abs(count - expected) < expected * 0.12, `${c} appeared ${count} times, expected about ${Math.round(expected)}`);
    }
  });

  test('malformed: wrong prefix, too short, too long, bad characters, empty, whitespace-padded', () => {
    const { key } = generateApiKey();
    const cases: [string, string][] = [
      ['wrong prefix', `sk_${key.slice(3)}`],
      ['upper-case prefix', `WDN_${key.slice(4)}`],
      ['no prefix', key.slice(4)],
      ['too short', key.slice(0, -1)],
      ['truncated', key.slice(0, 30)],
      ['too long', `${key}A`],
      ['a dash inside', `${key.slice(0, 20)}-${key.slice(21)}`],
      ['non-ASCII letter', `${key.slice(0, 20)}é${key.slice(21)}`],
      ['empty', ''],
      ['leading space', ` ${key}`],
      ['trailing newline', `${key}\n`],
      ['Bearer prefix left in', `Bearer ${key}`],
    ];
    for (const [what, text] of cases) {
      const err = assertRefused(() => parseApiKey(text), 'malformed', text);
      assert.match(err.message, /expected wdn_ followed by 61 letters and digits \(65 characters in all\)/, what);
    }
  });

  test('non-string input is malformed, not a TypeError', () => {
    assertRefused(() => parseApiKey(undefined as unknown as string), 'malformed', '');
    assertRefused(() => parseApiKey(42 as unknown as string), 'malformed', '');
  });

  test('a one-character typo anywhere after the prefix fails the checksum, with the id and a copy/paste hint', () => {
    const { id, key } = generateApiKey();
    let caughtAll = 0;
    for (let pos = 4; pos < key.length; pos++) {
      const replacement = key[pos] === 'a' ? 'b' : 'a';
      const typo = key.slice(0, pos) + replacement + key.slice(pos + 1);
      const err = assertRefused(() => parseApiKey(typo), 'bad_checksum', typo);
      assert.match(err.message, /check for a copy\/paste error/);
      if (pos >= 16) assert.equal(err.keyId, id);
      caughtAll++;
    }
    assert.equal(caughtAll, 61);
  });

  test('two characters swapped fail the checksum too', () => {
    const { key } = generateApiKey();
    const i = [...key.slice(20, 58)].findIndex((c, j) => c !== key[20 + j + 1]) + 20;
    const swapped = key.slice(0, i) + key[i + 1] + key[i] + key.slice(i + 2);
    assertRefused(() => parseApiKey(swapped), 'bad_checksum', swapped);
  });

  test('hashApiKey is hex SHA-256 of the whole key, different for different keys', () => {
    const a = generateApiKey().key;
    const b = generateApiKey().key;
    assert.equal(hashApiKey(a), createHash('sha256').update(a).digest('hex'));
    assert.match(hashApiKey(a), /^[0-9a-f]{64}$/);
    assert.notEqual(hashApiKey(a), hashApiKey(b));
    assert.ok(!hashApiKey(a).includes(a.slice(16, 59)));
  });
});
