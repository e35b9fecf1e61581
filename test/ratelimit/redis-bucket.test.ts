import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { RedisBucketLimiter, TokenBucketLimiter } from '../../src/ratelimit/index.js';
import { RedisScript } from '../../src/store/redis/connection.js';
import { capturedLog, deleteKeys, openTestRedis, RedisProxy, testPrefix } from '../helpers/redis.js';

/** Two instances' worth of limiters hammering one key together for `ms`; how many were allowed. */
async function hammer(limiters: RedisBucketLimiter[], key: string, ms: number): Promise<number> {
  let allowed = 0;
  const end = performance.now() + ms;
  await Promise.all(limiters.map(async (limiter) => {
    while (performance.now() < end) {
      if ((await limiter.take(key)).ok) allowed++;
      await new Promise((r) => setTimeout(r, 2));
    }
  }));
  return allowed;
}

describe('RedisBucketLimiter (real Redis)', () => {
  const prefixes: string[] = [];
  after(async () => { for (const p of prefixes) await deleteKeys(p); });

  test('two gateways on one Redis share one budget: at most burst + rate x time (+1), not twice that', async () => {
    const prefix = testPrefix();
    prefixes.push(prefix);
    const a = await openTestRedis({ keyPrefix: prefix });
    const b = await openTestRedis({ keyPrefix: prefix });
    try {
      const options = { name: 'principal', ratePerSecond: 10, burst: 10 };
      const limiters = [new RedisBucketLimiter(a.redis, options), new RedisBucketLimiter(b.redis, options)];
      const started = performance.now();
      const allowed = await hammer(limiters, 'alice', 1_500);
      const seconds = (performance.now() - started) / 1000;
      const budget = 10 + 10 * seconds;
      assert.ok(allowed <= Math.ceil(budget) + 1, `allowed ${allowed}, budget ${budget.toFixed(1)}`);
      assert.ok(allowed >= budget - 3, `allowed ${allowed}: the shared budget was used, budget ${budget.toFixed(1)}`);
      // Control: the same two instances with per-instance (in-memory) buckets let about twice through.
      const local = [new TokenBucketLimiter(options), new TokenBucketLimiter(options)];
      let localAllowed = 0;
      for (let i = 0; i < 100; i++) for (const l of local) if (l.take('alice').ok) localAllowed++;
      assert.equal(localAllowed, 20);
    } finally {
      await a.redis.close();
      await b.redis.close();
    }
  });

  test('same answers as the in-memory bucket: the burst, then 429 with an integer Retry-After; other keys untouched', async () => {
    const { redis, keyPrefix, cleanup } = await openTestRedis();
    try {
      const limiter = new RedisBucketLimiter(redis, { name: 'ip', ratePerSecond: 0.5, burst: 3 });
      for (let i = 0; i < 3; i++) assert.deepEqual(await limiter.take('10.0.0.1'), { ok: true });
      const refused = await limiter.take('10.0.0.1');
      assert.deepEqual(refused, { ok: false, retryAfterSeconds: 2 });
      assert.deepEqual(await limiter.take('10.0.0.2'), { ok: true });
      // Keys expire once a bucket would be full again, so Redis memory is bounded by the active keys.
      const ttl = await redis.client.pttl(`${keyPrefix}rl:ip:k:10.0.0.1`);
      assert.ok(ttl > 5_000 && ttl <= 7_000, `pttl ${ttl}`);
    } finally {
      await cleanup();
    }
  });

  test('a very long key is hashed: its Redis key stays short and it still has its own bucket', async () => {
    const { redis, keyPrefix, cleanup } = await openTestRedis();
    try {
      const limiter = new RedisBucketLimiter(redis, { name: 'principal', ratePerSecond: 1, burst: 1 });
      const long = 'x'.repeat(5_000);
      assert.deepEqual(await limiter.take(long), { ok: true });
      assert.equal((await limiter.take(long)).ok, false);
      assert.deepEqual(await limiter.take(`${long}y`), { ok: true });
      const keys = await redis.client.keys(`${keyPrefix}*`);
      assert.ok(keys.every((k) => k.length < 120), keys.join(','));
    } finally {
      await cleanup();
    }
  });

  test('Redis down: local buckets answer at once, the outage is logged once and counted; Redis is used again when it returns', async () => {
    const proxy = await RedisProxy.start();
    const { log, lines } = capturedLog();
    const prefix = testPrefix();
    prefixes.push(prefix);
    const { redis } = await openTestRedis({ url: proxy.url, keyPrefix: prefix, commandTimeout: 300, retryAfter: 200 }, log);
    let fallbacks = 0;
    const limiter = new RedisBucketLimiter(redis, { name: 'ip', ratePerSecond: 1, burst: 2, onFallback: () => fallbacks++ });
    try {
      assert.deepEqual(await limiter.take('ip-1'), { ok: true });
      await proxy.stop();
      const started = performance.now();
      const answers = [];
      for (let i = 0; i < 50; i++) answers.push(await limiter.take('ip-2'));
      const ms = performance.now() - started;
      assert.ok(ms < 1_000, `50 takes during the outage took ${ms.toFixed(0)} ms`);
      // The local bucket applies the same limit: 2 at once, then refused.
      assert.deepEqual(answers.slice(0, 3).map((a) => a.ok), [true, true, false]);
      assert.equal(fallbacks, 50);
      const outage = lines.filter((l) => String(l.msg).startsWith('Redis unreachable'));
      assert.equal(outage.length, 1, JSON.stringify(lines.map((l) => l.msg)));
      await proxy.start();
      const back = performance.now();
      while (!redis.usable() && performance.now() - back < 5_000) await new Promise((r) => setTimeout(r, 50));
      assert.ok(redis.usable(), 'reconnected');
      assert.deepEqual(await limiter.take('ip-3'), { ok: true });
      assert.equal(await redis.client.exists(`${prefix}rl:ip:k:ip-3`), 1, 'the shared bucket is used again');
      assert.ok(lines.some((l) => String(l.msg).startsWith('Redis answers again')));
    } finally {
      await redis.close();
      await proxy.stop();
    }
  });

  test('a Redis that hangs: one take waits at most the command timeout, the next ones do not wait', async () => {
    const proxy = await RedisProxy.start();
    const { redis } = await openTestRedis({ url: proxy.url, commandTimeout: 200, retryAfter: 2_000 });
    const limiter = new RedisBucketLimiter(redis, { name: 'ip', ratePerSecond: 1, burst: 5 });
    try {
      assert.deepEqual(await limiter.take('a'), { ok: true });
      proxy.hang();
      let started = performance.now();
      assert.deepEqual(await limiter.take('a'), { ok: true }); // the local bucket
      const first = performance.now() - started;
      assert.ok(first >= 150 && first < 600, `first take ${first.toFixed(0)} ms`);
      started = performance.now();
      for (let i = 0; i < 20; i++) await limiter.take('a');
      assert.ok(performance.now() - started < 50, 'later takes go local without waiting');
    } finally {
      await redis.close();
      await proxy.stop();
    }
  });

  test('a script Redis forgot (restart, SCRIPT FLUSH) is sent again with EVAL', async () => {
    const { redis, cleanup } = await openTestRedis();
    try {
      const script = new RedisScript(`return ARGV[1] .. '-${Math.random()}'`);
      (script as unknown as { sha: string }).sha = '0'.repeat(40);
      assert.match(String(await script.run(redis.client, [], ['ok'])), /^ok-/);
    } finally {
      await cleanup();
    }
  });
});

describe('RedisConnection', () => {
  test('an unreachable Redis stops start-up with an error that names it without the password', async () => {
    const { log, lines } = capturedLog();
    const { RedisConnection } = await import('../../src/store/redis/connection.js');
    await assert.rejects(
      RedisConnection.open({ url: 'redis://:s3cret-pass@127.0.0.1:1/0', connectTimeout: 300 }, log),
      (err: Error) => {
        assert.match(err.message, /Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0 is not reachable/);
        assert.doesNotMatch(err.message, /s3cret-pass/);
        return true;
      },
    );
    assert.doesNotMatch(JSON.stringify(lines), /s3cret-pass/);
  });

  test('ping reports the round trip', async () => {
    const { redis, cleanup } = await openTestRedis();
    try {
      const pong = await redis.ping();
      assert.equal(pong.ok, true);
      assert.equal(redis.ready, true);
    } finally {
      await cleanup();
    }
  });
});
