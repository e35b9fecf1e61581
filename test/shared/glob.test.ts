import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { globToRegExp, GlobSet } from '../../src/shared/glob.js';

describe('globToRegExp', () => {
  test('* and ? and anchors', () => {
    assert.equal(globToRegExp('a*').test('a'), true);
    assert.equal(globToRegExp('a*').test('abc'), true);
    assert.equal(globToRegExp('a*').test('ba'), false);
    assert.equal(globToRegExp('*a').test('ab'), false);
    assert.equal(globToRegExp('a?c').test('abc'), true);
    assert.equal(globToRegExp('a?c').test('ac'), false);
    assert.equal(globToRegExp('a?c').test('a\nc'), true);
    assert.equal(globToRegExp('*').test(''), true);
  });

  test('every regex special character is literal', () => {
    const specials = '.+^${}()|[]\\/-';
    const re = globToRegExp(`${specials}*`);
    assert.equal(re.test(`${specials}tail`), true);
    for (let i = 0; i < specials.length; i++) {
      const mangled = `${specials.slice(0, i)}x${specials.slice(i + 1)}`;
      assert.equal(re.test(mangled), false, `${specials[i]} must match only itself`);
    }
  });
});

describe('GlobSet', () => {
  test('exact names and patterns together', () => {
    const set = new GlobSet(['echo', 'get_*', 'v?']);
    assert.deepEqual(set.sources, ['echo', 'get_*', 'v?']);
    assert.equal(set.matches('echo'), true);
    assert.equal(set.matches('echo2'), false);
    assert.equal(set.matches('get_x'), true);
    assert.equal(set.matches('v1'), true);
    assert.equal(set.matches('v10'), false);
    assert.equal(set.matches(''), false);
  });

  test('an empty set matches nothing', () => {
    assert.equal(new GlobSet([]).matches(''), false);
    assert.equal(new GlobSet([]).matches('x'), false);
  });
});
