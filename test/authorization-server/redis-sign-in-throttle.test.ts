import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { RedisSignInThrottle } from '../../src/authorization-server/redis-sign-in-throttle.js';
import { SignInThrottle, type SignInThrottleOptions } from '../../src/authorization-server/sign-in-throttle.js';
import { deleteKeys, openTestRedis, RedisProxy, testPrefix } from '../helpers/redis.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const POLICY: SignInThrottleOptions = { perAddress: { after: 3, initial: 1_000, max: 8_000 }, perAccount: { after: 5, initial: 1_000, max: 4_000 } };

describe('RedisSignInThrottle (real Redis)', () => {
  const prefixes: string[] = [];
  after(async () => { for (const p of prefixes) await deleteKeys(p); });

  async function instances(n: number, options: SignInThrottleOptions = POLICY) {
    const prefix = testPrefix();
    prefixes.push(prefix);
    const conns = await Promise.all(Array.from({ length: n }, () => openTestRedis({ keyPrefix: prefix })));
    return {
      throttles: conns.map((c) => new RedisSignInThrottle(c.redis, options)),
      redis: conns[0]!.redis,
      prefix,
      close: async () => { for (const c of conns) await c.redis.close(); },
    };
  }

  test('attack: guessing one password through three instances gets the attempts of one, not three', async () => {
    const { throttles, close } = await instances(3);
    try {
      let allowed = 0;
      for (let i = 0; i < 12; i++) if ((await throttles[i % 3]!.attempt('alice', '203.0.113.5')).ok) allowed++;
      assert.equal(allowed, 3, 'the 3 free attempts, across all instances together');
      const refused = await throttles[1]!.attempt('alice', '203.0.113.5');
      assert.deepEqual(refused, { ok: false, retryAfterSeconds: 1, scope: 'address' });
      // Control: per-instance (in-memory) throttles would let 3 through on each.
      const local = [new SignInThrottle(POLICY), new SignInThrottle(POLICY), new SignInThrottle(POLICY)];
      let localAllowed = 0;
      for (let i = 0; i < 12; i++) if ((local[i % 3]!.attempt('alice', '203.0.113.5')).ok) localAllowed++;
      assert.equal(localAllowed, 9);
    } finally {
      await close();
    }
  });

  test('the same waits as in memory; alice from another address is not slowed; the right password resets the pair', async () => {
    const { throttles, close } = await instances(2, { perAddress: { after: 1, initial: 300, max: 600 }, perAccount: false });
    const [a, b] = throttles as [RedisSignInThrottle, RedisSignInThrottle];
    try {
      assert.deepEqual(await a.attempt('bob', '10.0.0.1'), { ok: true });
      const wait = await b.attempt('bob', '10.0.0.1');
      assert.equal(wait.ok, false, 'the 1st failure makes the next attempt wait');
      assert.deepEqual(await b.attempt('bob', '10.0.0.2'), { ok: true }, 'another address is not affected');
      await sleep(350);
      assert.deepEqual(await b.attempt('bob', '10.0.0.1'), { ok: true }, 'the wait is over');
      assert.equal((await a.attempt('bob', '10.0.0.1')).ok, false, 'wrong again: a longer wait');
      await sleep(650);
      assert.deepEqual(await a.attempt('bob', '10.0.0.1'), { ok: true });
      await a.succeeded('bob', '10.0.0.1');
      assert.deepEqual(await b.attempt('bob', '10.0.0.1'), { ok: true }, 'signed in: this address starts afresh');
    } finally {
      await close();
    }
  });

  test('per username across addresses: a guesser spread over many addresses is slowed, and succeeding takes back only one attempt', async () => {
    const { throttles, close } = await instances(2, { perAddress: { after: 100, initial: 1_000, max: 8_000 }, perAccount: { after: 3, initial: 1_000, max: 4_000 } });
    try {
      for (let i = 0; i < 3; i++) assert.deepEqual(await throttles[i % 2]!.attempt('carol', `198.51.100.${i}`), { ok: true });
      const verdict = await throttles[0]!.attempt('carol', '198.51.100.77');
      assert.deepEqual(verdict, { ok: false, retryAfterSeconds: 1, scope: 'account' });
      // Carol herself signs in (once the wait is over): the per-username count loses one attempt, not all.
      await sleep(1_050);
      assert.deepEqual(await throttles[1]!.attempt('carol', '192.0.2.1'), { ok: true });
      await throttles[1]!.succeeded('carol', '192.0.2.1');
      assert.equal((await throttles[0]!.attempt('carol', '198.51.100.78')).ok, false, 'the guesser is still slowed');
    } finally {
      await close();
    }
  });

  test('counts are kept under hashed keys that expire; usernames and addresses never appear in Redis', async () => {
    const { throttles, redis, prefix, close } = await instances(1);
    try {
      await throttles[0]!.attempt('dave@example.com', '10.9.9.9');
      const keys = await redis.client.keys(`${prefix}*`);
      assert.equal(keys.length, 2);
      assert.ok(keys.every((k) => !k.includes('dave') && !k.includes('10.9.9.9')));
      for (const k of keys) assert.ok((await redis.client.pttl(k)) > 86_000_000);
    } finally {
      await close();
    }
  });

  test('Redis unreachable: each instance falls back to its own counts (it still throttles), and shares them again after', async () => {
    const proxy = await RedisProxy.start();
    const prefix = testPrefix();
    prefixes.push(prefix);
    const { redis } = await openTestRedis({ url: proxy.url, keyPrefix: prefix, commandTimeout: 200, retryAfter: 100 });
    const t = new RedisSignInThrottle(redis, POLICY);
    try {
      await proxy.stop();
      let allowed = 0;
      for (let i = 0; i < 6; i++) if ((await t.attempt('erin', '10.1.1.1')).ok) allowed++;
      assert.equal(allowed, 3, 'the local counts still apply');
      await proxy.start();
      const back = performance.now();
      while (!redis.usable() && performance.now() - back < 5_000) await sleep(50);
      assert.deepEqual(await t.attempt('erin', '10.2.2.2'), { ok: true });
      assert.equal((await redis.client.keys(`${prefix}signin:*`)).length, 2, 'counted in Redis again');
    } finally {
      await redis.close();
      await proxy.stop();
    }
  });
});
