import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseResourceUri, removeDotSegments } from '../../src/policy/resource-uri.js';

describe('removeDotSegments (RFC 3986 §5.2.4)', () => {
  test("the RFC's own examples", () => {
    assert.equal(removeDotSegments('/a/b/c/./../../g'), '/a/g');
    assert.equal(removeDotSegments('mid/content=5/../6'), 'mid/6');
  });
  test('dot segments at the ends and beyond the root', () => {
    for (const [input, output] of [
      ['/a/..', '/'], ['/a/.', '/a/'], ['/../../x', '/x'], ['../x', 'x'], ['./x', 'x'], ['.', ''], ['..', ''], ['/a/b/..', '/a/'],
      ['/a//../b', '/a/b'], ['/a/...', '/a/...'], ['/a/..b/c', '/a/..b/c'],
    ] as const) assert.equal(removeDotSegments(input), output, input);
  });
});

describe('normaliseResourceUri', () => {
  test('normal forms (RFC 3986 §6.2.2 and, for http(s), §6.2.3)', () => {
    for (const [input, output] of [
      ['file:///a/b.txt', 'file:///a/b.txt'],
      ['FILE:///a/./b/../c', 'file:///a/c'],
      ['file:///a/%7Euser/%2e%2E/x', 'file:///a/x'],
      ['file:///a/%c3%a9', 'file:///a/%C3%A9'],
      ['HTTP://Example.COM:80', 'http://example.com/'],
      ['https://example.com:443/a?b=%7e#F', 'https://example.com/a?b=~#F'],
      ['https://example.com:8443/', 'https://example.com:8443/'],
      ['notes://1', 'notes://1'],
      ['test://readme', 'test://readme'],
      ['urn:isbn:0451450523', 'urn:isbn:0451450523'],
      ['custom:a/../b', 'custom:/b'], // as §5.2.4 has it for a rootless path
      ['file:///{path}', 'file:///{path}'],
      ['https://u%41@h/', 'https://uA@h/'],
    ] as const) {
      const result = normaliseResourceUri(input);
      assert.deepEqual(result, { ok: true, uri: output }, input);
    }
  });

  test('what has no unambiguous normal form is refused, saying why', () => {
    for (const [input, why] of [
      ['', /empty/],
      ['relative/path', /absolute/],
      ['/abs/path', /absolute/],
      ['1file:///x', /absolute/],
      ['file:///a%2Fb', /encoded/],
      ['file:///a%2fb', /encoded/],
      ['file:///a%5cb', /encoded/],
      ['file:///a%252e', /encoded/],
      ['file:///a%00', /encoded/],
      ['file:///a\\b', /backslash/],
      ['file:///a b', /spaces or control/],
      ['file:///a\tb', /spaces or control/],
      ['file:///%', /malformed/],
      ['file:///%g0', /malformed/],
      ['http://h%2F/x', /host/],
      ['file:///a?x=..', /query/],
      ['file:///a#../b', /fragment/],
      ['scheme:/.//x', /authority/],
      [`file:///${'a'.repeat(9000)}`, /longer/],
    ] as const) {
      const result = normaliseResourceUri(input);
      assert.equal(result.ok, false, input);
      assert.match((result as { why: string }).why, why, input);
    }
  });

  test('the normal form is a fixed point', () => {
    for (const input of ['FILE:///a/./b/../c', 'HTTP://Example.COM:80', 'file:///a/%c3%a9', 'custom:a/../b']) {
      const once = normaliseResourceUri(input);
      assert.ok(once.ok);
      assert.deepEqual(normaliseResourceUri(once.uri), once);
    }
  });
});
