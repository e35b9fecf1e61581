import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { redactArguments, REDACTED, TRUNCATED, MAX_DEPTH, MAX_ITEMS, MAX_NODES } from '../../src/audit/redact.js';
import { generateApiKey } from '../../src/credentials/index.js';
import { canonicalJson } from '../../src/audit/chain.js';

const R = REDACTED;
// Built from parts, so that this file does not itself look like it holds secrets to a scanner.
const jwt = ['eyJhbGciOiJIUzI1NiJ9', 'eyJzdWIiOiJhbGljZSJ9', 'c2lnbmF0dXJlX2J5dGVzX2hlcmU'].join('.');
const awsKey = 'AKIA' + 'IOSFODNN7EXAMPLE';
const ghToken = 'ghp_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8';
const ghPat = 'github_pat_' + '11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz';
const slack = 'xoxb-' + '1234567890-abcdefghijKLMN';
const openai = 'sk-' + 'proj-Ab12Cd34Ef56Gh78Ij90Kl12';
const anthropic = 'sk-' + 'ant-api03-Ab12Cd34Ef56Gh78Ij90';
const entropy = 'q8Zr2LmX0vT5nB7cK1wY4pD6sH9jF3gA';
const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\nabc\n-----END RSA PRIVATE KEY-----';

const redact = (value: unknown) => redactArguments(value, { maxBytes: 1_000_000 });

describe('redactArguments: field names', () => {
  const names = [
    'password', 'passwd', 'secret', 'token', 'api_key', 'apikey', 'api-key', 'authorization', 'cookie', 'session',
    'credential', 'credentials', 'private_key', 'client_secret', 'otp', 'pin',
    // inside longer names, with separators or camelCase, any case
    'db_password', 'X-Api-Key', 'accessToken', 'refresh_token', 'PASSWORD', 'userPassword', 'APIKey', 'PrivateKey',
    'clientSecret', 'sessionId', 'aws_secret_access_key', 'Proxy-Authorization', 'set-cookie', 'dbpassword',
  ];
  for (const name of names) {
    test(`${name} is redacted whatever the value`, () => {
      assert.deepEqual(redact({ [name]: 'hunter2', other: 'kept' }), { [name]: R, other: 'kept' });
      assert.deepEqual(redact({ [name]: { nested: 1 } }), { [name]: R });
      assert.deepEqual(redact({ [name]: 12345 }), { [name]: R });
    });
  }

  test('names that merely contain a short word are kept', () => {
    const value = { spinner: 'x', hotpot: 'y', tokenizer: 'z', max_tokens: 100, pwd: '/home/alice', keyboard: 'k', opinion: 'o' };
    assert.deepEqual(redact(value), value);
  });

  test('options.keys: extra names, case-insensitive, exact or glob', () => {
    const options = { keys: ['ssn', 'internal_*', '*_note'], maxBytes: 10_000 };
    assert.deepEqual(
      redactArguments({ SSN: '123', ssn_hint: 'kept', Internal_Id: 7, private_note: 'p', note: 'n' }, options),
      { SSN: R, ssn_hint: 'kept', Internal_Id: R, private_note: R, note: 'n' },
    );
  });
});

describe('redactArguments: secret-looking values', () => {
  const cases: [string, string][] = [
    ['warden key', generateApiKey().key],
    ['JWT', jwt],
    ['PEM block', pem],
    ['AWS access key id', awsKey],
    ['GitHub token', ghToken],
    ['GitHub fine-grained token', ghPat],
    ['Slack token', slack],
    ['OpenAI-style key', openai],
    ['Anthropic-style key', anthropic],
    ['high-entropy token', entropy],
    ['hex digest', 'a3f1c9e07b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a'],
  ];
  for (const [name, secret] of cases) {
    test(`${name}: the whole value, and in place inside text`, () => {
      assert.deepEqual(redact({ q: secret }), { q: R });
      assert.deepEqual(redact([`use ${secret} please`]), [`use ${R} please`]);
    });
  }

  test('Bearer and Basic keep the scheme, lose the credential', () => {
    assert.equal(redact('Bearer abc123.def-456'), `Bearer ${R}`);
    assert.equal(redact(`header: Bearer ${jwt} end`), `header: Bearer ${R} end`);
    const basic = Buffer.from('alice:s3cret').toString('base64');
    assert.equal(redact(`Authorization: Basic ${basic}`), `Authorization: Basic ${R}`);
    // prose is not a credential
    assert.equal(redact('Bearer authentication is basic knowledge'), 'Bearer authentication is basic knowledge');
  });

  test('a PEM block without its END line is redacted to the end, never half kept', () => {
    assert.equal(redact('key: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg'), `key: ${R}`);
    assert.equal(redact(`before\n${pem}\nafter`), `before\n${R}\nafter`);
  });

  test('passwords in URLs and key=value text', () => {
    assert.equal(redact('postgres://app:hunter2@db:5432/x'), `postgres://app:${R}@db:5432/x`);
    assert.equal(redact('redis://:hunter2@cache:6379'), `redis://:${R}@cache:6379`);
    assert.equal(redact('https://x.example/cb?code=1&token=abc&y=2'), `https://x.example/cb?code=1&token=${R}&y=2`);
    assert.equal(redact('login with password=hunter2 now'), `login with password=${R} now`);
  });

  test('ordinary text, ids and paths are kept', () => {
    const kept = [
      'search notes about the quarterly plan',
      'get_user_profile_by_id_version_2_extended',
      '/usr/local/lib/node_modules/some-package2/dist',
      'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
      '2026-11-22T19:37:35.123Z',
      'sk-learn',
    ];
    for (const text of kept) assert.equal(redact(text), text, text);
  });

  test('numbers, booleans and null pass through; what JSON cannot hold becomes what JSON.stringify makes of it', () => {
    assert.deepEqual(redact({ a: 1, b: true, c: null, d: [1.5, false] }), { a: 1, b: true, c: null, d: [1.5, false] });
    const odd = { nan: NaN, inf: [Infinity], big: 10n, fn: () => 1, undef: undefined, arr: [undefined, Symbol('s')] };
    const out = redact(odd);
    assert.deepEqual(out, { nan: null, inf: [null], big: '10', arr: [null, null] });
    assert.doesNotThrow(() => canonicalJson(out), 'a record holding it can be sealed');
  });
});

describe('redactArguments: structure and limits', () => {
  test('nested objects and arrays', () => {
    const value = { query: 'notes', filters: [{ owner: 'alice', auth: { token: 'x', scheme: 'y' } }, [awsKey, 'plain']] };
    assert.deepEqual(redact(value), { query: 'notes', filters: [{ owner: 'alice', auth: { token: R, scheme: 'y' } }, [R, 'plain']] });
  });

  test('the input is never mutated', () => {
    const value = { password: 'p', list: [ghToken, { secret: 's' }], deep: { a: { b: entropy } } };
    const copy = structuredClone(value);
    const out = redact(value);
    assert.deepEqual(value, copy);
    assert.notEqual(out, value);
  });

  test('__proto__ and constructor are plain data: no prototype is set or polluted', () => {
    const hostile = JSON.parse('{"__proto__": {"polluted": true, "token": "t"}, "constructor": {"prototype": {"x": 1}}}') as object;
    const out = redact(hostile) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.ok(Object.hasOwn(out, '__proto__'));
    assert.deepEqual(Object.getOwnPropertyDescriptor(out, '__proto__')?.value, { polluted: true, token: R });
    assert.deepEqual(Object.getOwnPropertyDescriptor(out, 'constructor')?.value, { prototype: { x: 1 } });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal((out as { polluted?: unknown }).polluted, undefined);
    assert.match(JSON.stringify(out), /"__proto__":\{"polluted":true,"token":"\[REDACTED\]"\}/);
  });

  test('deeper than the depth limit becomes [TRUNCATED]; a cycle ends there too', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < MAX_DEPTH + 5; i++) deep = { d: deep };
    let out = redact(deep);
    let levels = 0;
    while (typeof out === 'object' && out !== null) {
      out = (out as { d: unknown }).d;
      levels++;
    }
    assert.equal(levels, MAX_DEPTH);
    assert.equal(out, TRUNCATED);

    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    assert.doesNotThrow(() => JSON.stringify(redact(cyclic)));
  });

  test('more items than the limit: the rest becomes [TRUNCATED]', () => {
    const arr = Array.from({ length: MAX_ITEMS + 50 }, (_, i) => i);
    const outArr = redact(arr) as unknown[];
    assert.equal(outArr.length, MAX_ITEMS + 1);
    assert.equal(outArr.at(-1), TRUNCATED);
    const obj = Object.fromEntries(arr.map((i) => [`k${i}`, i]));
    const outObj = redact(obj) as Record<string, unknown>;
    assert.equal(Object.keys(outObj).length, MAX_ITEMS + 1);
    assert.equal(outObj[TRUNCATED], 50);
  });

  test('past the node budget, the rest of a huge argument is [TRUNCATED]', () => {
    const grid = Array.from({ length: 100 }, () => Array.from({ length: 100 }, (_, i) => i));
    const out = redact(grid) as unknown[];
    // the outer array is one value and each full row 101 (itself and its numbers)
    const fullRows = Math.floor((MAX_NODES - 1) / 101);
    assert.equal(fullRows, 99);
    assert.deepEqual(out.slice(0, fullRows), grid.slice(0, fullRows));
    assert.deepEqual(out.slice(fullRows), [TRUNCATED]);
  });

  test('over maxBytes after redaction: only the size is kept', () => {
    const value = { text: 'x'.repeat(3000) };
    assert.deepEqual(redactArguments(value), { truncated: true, bytes: JSON.stringify(value).length });
    assert.deepEqual(redactArguments({ a: 'x'.repeat(50) }, { maxBytes: 64 }), { a: 'x'.repeat(50) });
    // measured after redaction: a large PEM block shrinks to [REDACTED] and then fits
    const big = { key: `-----BEGIN PRIVATE KEY-----\n${'A'.repeat(5000)}\n-----END PRIVATE KEY-----` };
    assert.deepEqual(redactArguments(big), { key: R });
    assert.equal(redactArguments(undefined), undefined);
  });

  test('a string with very many secret-looking pieces is redacted whole', () => {
    assert.equal(redact(`${'token=a '.repeat(1000)}tail`), R);
    assert.equal(redact(`${'token=a '.repeat(10)}tail`), `${`token=${R} `.repeat(10)}tail`);
  });

  test('a secret name in a key is redacted too', () => {
    const out = redact({ [ghToken]: 1, [awsKey]: 2 }) as Record<string, unknown>;
    assert.deepEqual(Object.values(out), [1, 2]);
    for (const key of Object.keys(out)) assert.ok(key.startsWith(R), key);
  });

  test('huge and hostile inputs stay fast (< 50 ms for 1 MB)', () => {
    const inputs: [string, unknown][] = [
      ['one 1 MB string', `start ${'lorem ipsum dolor sit amet '.repeat(40_000)} ${ghToken}`],
      ['1 MB of eyJ without dots', 'eyJ'.repeat(350_000)],
      ['1 MB of eyJ. segments', 'eyJa.'.repeat(210_000)],
      ['1 MB of -----BEGIN', '-----BEGIN '.repeat(95_000)],
      ['1 MB of Bearer', 'Bearer '.repeat(150_000)],
      ['1 MB of Basic', 'Basic Abcdefgh '.repeat(70_000)],
      ['1 MB of key=value', 'token=a '.repeat(130_000)],
      ['1 MB token run', 'aB3'.repeat(350_000)],
      ['1 MB of url-ish text', 'a://b:c'.repeat(150_000)],
      ['many small strings', Array.from({ length: 20_000 }, (_, i) => `value ${i} ${entropy}`)],
      ['100 × 100 objects', Array.from({ length: 100 }, () => Array.from({ length: 100 }, (_, i) => ({ password: 'x', note: `hello ${i} ${entropy}` })))],
      ['wide object', Object.fromEntries(Array.from({ length: 30_000 }, (_, i) => [`field_${i}`, `value ${i}`]))],
    ];
    for (const [name, input] of inputs) {
      redactArguments(input); // warm-up: compiled regexes and JIT
      // CPU time, best of a few runs: the cost of the work itself, not of the other processes a loaded CI
      // machine runs meanwhile (wall time there measures the scheduler).
      let best = Infinity;
      for (let i = 0; i < 5 && best >= 50; i++) {
        const started = process.cpuUsage();
        assert.ok(redactArguments(input) !== undefined);
        const used = process.cpuUsage(started);
        best = Math.min(best, (used.user + used.system) / 1000);
      }
      assert.ok(best < 50, `${name}: ${best.toFixed(1)} ms`);
    }
  });
});
