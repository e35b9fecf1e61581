import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucketLimiter } from '../../src/ratelimit/index.js';

/** A clock the test moves by hand, in milliseconds. */
function clock(start = 1_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

/** How many `take`s in a row succeed (stops at `max`). */
function drain(limiter: TokenBucketLimiter, key: string, max = 1000): number {
  let n = 0;
  while (n < max && limiter.take(key).ok) n++;
  return n;
}

describe('TokenBucketLimiter', () => {
  test('the burst is allowed at once, then refused with a Retry-After of at least a second', () => {
    const c = clock();
    const limiter = new TokenBucketLimiter({ ratePerSecond: 2, burst: 5, now: c.now });
    for (let i = 0; i < 5; i++) assert.deepEqual(limiter.take('ip'), { ok: true }, `request ${i + 1}`);
    const refused = limiter.take('ip');
    assert.equal(refused.ok, false);
    assert.ok(!refused.ok && refused.retryAfterSeconds >= 1);
    assert.ok(!refused.ok && Number.isInteger(refused.retryAfterSeconds));
    // Refusals do not consume anything or push the wait further out.
    assert.deepEqual(limiter.take('ip'), refused);
  });

  test('retryAfterSeconds is the time to the next token, rounded up', () => {
    const c = clock();
    const slow = new TokenBucketLimiter({ ratePerSecond: 0.1, burst: 1, now: c.now });
    assert.equal(slow.take('k').ok, true);
    assert.deepEqual(slow.take('k'), { ok: false, retryAfterSeconds: 10 });
    c.advance(2_500);
    assert.deepEqual(slow.take('k'), { ok: false, retryAfterSeconds: 8 }, '7.5 s to go, rounded up');
    const fast = new TokenBucketLimiter({ ratePerSecond: 100, burst: 1, now: c.now });
    assert.equal(fast.take('k').ok, true);
    assert.deepEqual(fast.take('k'), { ok: false, retryAfterSeconds: 1 }, 'never less than a second');
  });

  test('refills over time at the rate, up to the burst', () => {
    const c = clock();
    const limiter = new TokenBucketLimiter({ ratePerSecond: 2, burst: 4, now: c.now });
    assert.equal(drain(limiter, 'ip'), 4);
    c.advance(499);
    assert.equal(limiter.take('ip').ok, false, 'not yet a whole token');
    c.advance(1);
    assert.equal(drain(limiter, 'ip'), 1, 'one token after 500 ms at 2/s');
    c.advance(1_500);
    assert.equal(drain(limiter, 'ip'), 3, 'three tokens after 1.5 s');
    c.advance(60_000);
    assert.equal(drain(limiter, 'ip'), 4, 'capped at the burst after a long pause');
  });

  test('fractions accumulate across takes', () => {
    const c = clock();
    const limiter = new TokenBucketLimiter({ ratePerSecond: 1, burst: 1, now: c.now });
    assert.equal(limiter.take('ip').ok, true);
    for (let i = 0; i < 3; i++) {
      c.advance(250);
      assert.equal(limiter.take('ip').ok, false, `after ${(i + 1) * 250} ms`);
    }
    c.advance(249);
    assert.equal(limiter.take('ip').ok, false, 'after 999 ms');
    c.advance(1);
    assert.equal(limiter.take('ip').ok, true, 'a whole token after 1 s, though refused requests came in between');
  });

  test('fractions accumulate across takes without rounding error', () => {
    const c = clock();
    const limiter = new TokenBucketLimiter({ ratePerSecond: 1, burst: 1, now: c.now });
    assert.equal(limiter.take('ip').ok, true);
    for (let i = 0; i < 3; i++) {
      c.advance(300);
      assert.equal(limiter.take('ip').ok, false, `after ${(i + 1) * 300} ms`);
    }
    c.advance(100);
    assert.equal(limiter.take('ip').ok, true, 'a whole token after 1 s, though refused requests came in between');
  });

  test('keys are independent', () => {
    const c = clock();
    const limiter = new TokenBucketLimiter({ ratePerSecond: 1, burst: 2, now: c.now });
    assert.equal(drain(limiter, '10.0.0.1'), 2);
    assert.equal(limiter.take('10.0.0.1').ok, false);
    assert.equal(drain(limiter, '10.0.0.2'), 2, 'another key starts full');
    assert.equal(limiter.size, 2);
  });

  test('maxKeys bounds memory, forgetting the least recently used key first', () => {
    const c = clock();
    const limiter = new TokenBucketLimiter({ ratePerSecond: 0.001, burst: 1, maxKeys: 2, now: c.now });
    assert.equal(limiter.take('a').ok, true);
    assert.equal(limiter.take('b').ok, true);
    assert.equal(limiter.take('a').ok, false, 'a is now the most recently used');
    assert.equal(limiter.take('c').ok, true, 'c evicts b, the least recently used');
    assert.equal(limiter.size, 2);
    assert.equal(limiter.take('a').ok, false, 'a is still remembered (empty)');
    assert.equal(limiter.take('b').ok, true, 'b was forgotten, so it starts full again');
    assert.equal(limiter.size, 2);
    assert.equal(limiter.take('a').ok, false, 'b evicted c, not a');
    assert.equal(limiter.take('c').ok, true, 'c was forgotten');
  });

  test('a flood of distinct keys stays within maxKeys', () => {
    const limiter = new TokenBucketLimiter({ ratePerSecond: 1, burst: 1, maxKeys: 50, now: () => 0 });
    for (let i = 0; i < 1000; i++) assert.equal(limiter.take(`ip-${i}`).ok, true);
    assert.equal(limiter.size, 50);
    assert.equal(limiter.take('ip-999').ok, false, 'the newest keys are kept');
    assert.equal(limiter.take('ip-0').ok, true, 'the oldest were forgotten');
  });

  test('the default clock is real time', () => {
    const limiter = new TokenBucketLimiter({ ratePerSecond: 0.01, burst: 1 });
    assert.equal(limiter.take('k').ok, true);
    assert.deepEqual(limiter.take('k'), { ok: false, retryAfterSeconds: 100 });
  });
});
