import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { RedisChangeFeed } from '../../../src/store/redis/change-feed.js';
import { LocalChangeFeed } from '../../../src/store/change-feed.js';
import { deleteKeys, openTestRedis, RedisProxy, testPrefix } from '../../helpers/redis.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with the ms it took until `feed.version()` differs from `from` (gives up after `limit`). */
async function untilChanged(feed: { version(): number }, from: number, limit = 3_000): Promise<number> {
  const started = performance.now();
  while (feed.version() === from) {
    if (performance.now() - started > limit) throw new Error(`version did not change within ${limit} ms`);
    await new Promise((r) => setImmediate(r));
  }
  return performance.now() - started;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

describe('RedisChangeFeed (real Redis)', () => {
  const prefixes: string[] = [];
  after(async () => { for (const p of prefixes) await deleteKeys(p); });

  async function twoInstances(options: { pollInterval?: number; staleAfter?: number } = {}, urlB?: string, urlA?: string) {
    const prefix = testPrefix();
    prefixes.push(prefix);
    const a = await openTestRedis({ keyPrefix: prefix, commandTimeout: 300, ...(urlA ? { url: urlA } : {}) });
    const b = await openTestRedis({ keyPrefix: prefix, commandTimeout: 300, ...(urlB ? { url: urlB } : {}) });
    const feedA = await RedisChangeFeed.open(a.redis, options);
    const feedB = await RedisChangeFeed.open(b.redis, options);
    return {
      feedA, feedB, redisA: a.redis, redisB: b.redis, prefix,
      close: async () => { feedA.close(); feedB.close(); await a.redis.close(); await b.redis.close(); },
    };
  }

  test('a change on instance A reaches instance B: delay over 200 changes (p50, max)', async (t) => {
    const { feedA, feedB, close } = await twoInstances();
    try {
      const delays: number[] = [];
      for (let i = 0; i < 200; i++) {
        const before = feedB.version();
        const own = feedA.version();
        feedA.changed();
        assert.notEqual(feedA.version(), own, 'the instance that changed sees it at once');
        delays.push(await untilChanged(feedB, before));
      }
      // Each change was seen once, as itself: B's counter is A's, and B's version moved 200 times.
      assert.equal(feedB.status().version, feedA.status().version);
      const p50 = percentile(delays, 50);
      const max = Math.max(...delays);
      t.diagnostic(`change A -> B over 200 changes: p50 ${p50.toFixed(2)} ms, p99 ${percentile(delays, 99).toFixed(2)} ms, max ${max.toFixed(2)} ms`);
      assert.ok(max < 1_000, `max ${max} ms`);
    } finally {
      await close();
    }
  });

  test('a missed pub/sub message delays the change by at most the poll interval', async () => {
    const { feedB, redisA, prefix, close } = await twoInstances({ pollInterval: 100 });
    try {
      const before = feedB.version();
      // The counter moves with no message: what a subscriber that was reconnecting would miss.
      await redisA.client.incr(`${prefix}changes`);
      const ms = await untilChanged(feedB, before);
      assert.ok(ms <= 250, `noticed after ${ms.toFixed(0)} ms`);
      // Unchanged since: the version stays put (caches are kept).
      const now = feedB.version();
      await sleep(350);
      assert.equal(feedB.version(), now);
    } finally {
      await close();
    }
  });

  test('a counter that was lost (Redis flushed) counts as a change once, then the version is stable again', async () => {
    const { feedA, feedB, redisA, prefix, close } = await twoInstances({ pollInterval: 50 });
    try {
      feedA.changed();
      feedA.changed();
      await sleep(150);
      const before = feedB.version();
      await redisA.client.del(`${prefix}changes`);
      await untilChanged(feedB, before, 1_000);
      const after = feedB.version();
      await sleep(300);
      assert.equal(feedB.version(), after);
    } finally {
      await close();
    }
  });

  test('Redis unreachable: within staleAfter the feed is unhealthy and every version() differs (caches miss); healthy again once it answers', async () => {
    const proxy = await RedisProxy.start();
    const { feedB, redisB, close } = await twoInstances({ pollInterval: 50, staleAfter: 300 }, proxy.url);
    try {
      assert.equal(feedB.healthy(), true);
      const v = feedB.version();
      assert.equal(feedB.version(), v, 'a healthy, unchanged feed keeps its version (caches hit)');
      await proxy.stop();
      const cut = performance.now();
      while (feedB.healthy()) await sleep(10);
      const ms = performance.now() - cut;
      assert.ok(ms <= 500, `unhealthy after ${ms.toFixed(0)} ms`);
      const x = feedB.version();
      assert.notEqual(feedB.version(), x);
      assert.equal(feedB.status().healthy, false);
      await proxy.start();
      const back = performance.now();
      while (!feedB.healthy() && performance.now() - back < 5_000) await sleep(20);
      assert.equal(feedB.healthy(), true, 'healthy again');
      assert.ok(redisB.ready);
      const y = feedB.version();
      assert.equal(feedB.version(), y);
    } finally {
      await close();
      await proxy.stop();
    }
  });

  test('a change made while Redis was unreachable is announced when it answers again', async () => {
    const proxy = await RedisProxy.start();
    const { feedA, feedB, close } = await twoInstances({ pollInterval: 50, staleAfter: 500 }, undefined, proxy.url);
    try {
      await proxy.stop();
      await sleep(50);
      const before = feedB.version();
      feedA.changed();
      await sleep(300);
      assert.equal(feedB.version(), before, 'B could not hear of it yet');
      await proxy.start();
      await untilChanged(feedB, before, 5_000);
    } finally {
      await close();
      await proxy.stop();
    }
  });
});

test('LocalChangeFeed: one process, always healthy, changes when this process writes', () => {
  const feed = new LocalChangeFeed();
  const v = feed.version();
  assert.equal(feed.version(), v);
  feed.changed();
  assert.notEqual(feed.version(), v);
  assert.equal(feed.healthy(), true);
});
