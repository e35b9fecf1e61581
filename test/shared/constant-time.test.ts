import { test } from 'node:test';
import assert from 'node:assert/strict';
import { presentsBearer, sameSecret } from '../../src/shared/constant-time.js';

test('sameSecret: equal strings only, whatever their lengths', () => {
  assert.equal(sameSecret('s3cret-token', 's3cret-token'), true);
  assert.equal(sameSecret('s3cret-token', 's3cret-tokeN'), false);
  assert.equal(sameSecret('s3cret', 's3cret-token'), false, 'a prefix is not the secret');
  assert.equal(sameSecret('', ''), true);
});

test('presentsBearer: the Bearer scheme (any case) with exactly the token; anything else is refused', () => {
  const token = 'scrape-token-0123456789';
  assert.equal(presentsBearer(`Bearer ${token}`, token), true);
  assert.equal(presentsBearer(`bearer ${token}`, token), true, 'schemes are case-insensitive (RFC 7235)');
  assert.equal(presentsBearer(`Bearer ${token} `, token), true);
  for (const header of [undefined, '', token, `Basic ${token}`, `DPoP ${token}`, `Bearer ${token}x`, `Bearer  `, `Bearer ${token} extra`, `Bearer ${token.slice(0, -1)}`]) {
    assert.equal(presentsBearer(header, token), false, JSON.stringify(header));
  }
});
