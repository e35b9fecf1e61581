import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RedisReplayCache } from '../../../src/store/redis/replay-cache.js';
import { MemoryReplayCache, ReplayCacheFull } from '../../../src/store/replay-cache.js';
import { SharedSecret, deriveKey } from '../../../src/store/redis/shared-secret.js';
import { RequestStates } from '../../../src/gateway/pipeline/request-state.js';
import { openTestRedis, RedisProxy } from '../../helpers/redis.js';

describe('ReplayCache', () => {
  test('memory: first use passes, a replay is refused until the id expires; full of live ids it refuses (fails closed)', async () => {
    let now = 1_000;
    const cache = new MemoryReplayCache(2, () => now);
    assert.equal(await cache.seen('a', 5_000), false);
    assert.equal(await cache.seen('a', 5_000), true, 'replay refused');
    assert.equal(await cache.seen('b', 2_000), false);
    await assert.rejects(cache.seen('c', 9_000), ReplayCacheFull, 'full of ids that have not expired: refused, none forgotten');
    now = 3_000;
    assert.equal(await cache.seen('c', 9_000), false, 'b expired and was swept');
    now = 6_000;
    assert.equal(await cache.seen('a', 9_000), false, 'a expired: it may be recorded again');
  });

  test('Redis: replaying a jti on another instance is refused; two instances racing on one jti: exactly one wins', async () => {
    const a = await openTestRedis();
    const b = await openTestRedis({ keyPrefix: a.keyPrefix });
    try {
      const onA = new RedisReplayCache(a.redis, 'idjag');
      const onB = new RedisReplayCache(b.redis, 'idjag');
      const exp = Date.now() + 60_000;
      assert.equal(await onA.seen('jti-1', exp), false, 'control: first use passes');
      assert.equal(await onB.seen('jti-1', exp), true, 'replay on another instance refused');
      // Another namespace is another set.
      assert.equal(await new RedisReplayCache(b.redis, 'dpop').seen('jti-1', exp), false);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? onA : onB).seen('jti-race', exp)));
      assert.equal(results.filter((seen) => !seen).length, 1);
      // It is remembered until the id expires, not for ever; the key is a hash, not the caller's id.
      const keys = await a.redis.client.keys(`${a.keyPrefix}jti:idjag:*`);
      assert.equal(keys.length, 2);
      assert.ok(keys.every((k) => !k.includes('jti-')));
      const ttl = await a.redis.client.pttl(keys[0]!);
      assert.ok(ttl > 55_000 && ttl <= 60_000, `pttl ${ttl}`);
      // An id that expired already is still remembered for a moment (a PXAT in the past would be refused).
      assert.equal(await onA.seen('old', Date.now() - 10_000), false);
      assert.equal(await onB.seen('old', Date.now() - 10_000), true);
    } finally {
      await b.redis.close();
      await a.cleanup();
    }
  });

  test('Redis unreachable: seen() rejects (callers refuse), it does not answer "new"', async () => {
    const proxy = await RedisProxy.start();
    const { redis, cleanup } = await openTestRedis({ url: proxy.url, commandTimeout: 200 });
    try {
      const cache = new RedisReplayCache(redis, 'dpop');
      assert.equal(await cache.seen('x', Date.now() + 10_000), false);
      await proxy.stop();
      await assert.rejects(cache.seen('y', Date.now() + 10_000), (err: Error & { code?: string }) => err.code === 'shared_state_unavailable');
    } finally {
      await redis.close();
      await proxy.stop();
      await cleanup().catch(() => {});
    }
  });
});

describe('SharedSecret (requestState key)', () => {
  test('created once: every instance derives the same key, so a requestState sealed on A opens on B', async () => {
    const a = await openTestRedis();
    const b = await openTestRedis({ keyPrefix: a.keyPrefix });
    const [sa, sb] = await Promise.all([SharedSecret.open(a.redis, 'request-state'), SharedSecret.open(b.redis, 'request-state')]);
    try {
      assert.deepEqual(sa.current(), sb.current());
      assert.equal(sa.current().length, 32);
      const onA = new RequestStates(60_000, Date.now, () => deriveKey(sa.current(), 'request-state'));
      const onB = new RequestStates(60_000, Date.now, () => deriveKey(sb.current(), 'request-state'));
      const binding = { owner: 'alice', upstream: 'notes', method: 'tools/call', target: 'search' };
      const sealed = onA.seal('server-state', binding);
      assert.deepEqual(onB.open(sealed, binding), { ok: true, state: 'server-state' });
      // Control: an instance with a key of its own refuses it, as before.
      assert.equal(new RequestStates().open(sealed, binding).ok, false);
      // Another use of the same secret gets another key.
      assert.notDeepEqual(deriveKey(sa.current(), 'request-state'), deriveKey(sa.current(), 'other'));
    } finally {
      sa.close();
      sb.close();
      await b.redis.close();
      await a.cleanup();
    }
  });
});
