import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { MemorySessionDirectory, RedisSessionDirectory, type SessionDirectory } from '../../../src/store/redis/sessions.js';
import { openTestRedis, RedisProxy } from '../../helpers/redis.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const record = { owner: '["","alice",""]', upstream: 'notes', instance: 'gw-a', kind: 'http' as const };

/** The contract every SessionDirectory keeps. */
function contract(name: string, open: (ttlMs: number) => Promise<{ directory: SessionDirectory; close(): Promise<void> }>) {
  describe(`SessionDirectory contract: ${name}`, () => {
    test('bind, lookup, forget; unknown ids are undefined', async () => {
      const { directory, close } = await open(60_000);
      try {
        assert.equal(await directory.lookup('s-1'), undefined);
        await directory.bind('s-1', record);
        assert.deepEqual(await directory.lookup('s-1'), record);
        await directory.bind('s-2', { ...record, owner: 'bob', kind: 'stdio' });
        assert.equal((await directory.lookup('s-2'))?.kind, 'stdio');
        await directory.forget('s-1');
        assert.equal(await directory.lookup('s-1'), undefined);
        assert.ok(await directory.lookup('s-2'));
      } finally {
        await close();
      }
    });

    test('entries expire after the TTL without use; a lookup or touch is a use', async () => {
      const { directory, close } = await open(300);
      try {
        await directory.bind('used', record);
        await directory.bind('idle', record);
        for (let i = 0; i < 4; i++) {
          await sleep(120);
          assert.ok(await directory.lookup('used'), `still there after ${(i + 1) * 120} ms of use`);
        }
        assert.equal(await directory.lookup('idle'), undefined, 'expired');
        await directory.bind('touched', record);
        for (let i = 0; i < 3; i++) {
          await sleep(120);
          await directory.touch('touched');
        }
        assert.ok(await directory.lookup('touched'));
      } finally {
        await close();
      }
    });

    test('a session id of any length and content is its own entry', async () => {
      const { directory, close } = await open(60_000);
      try {
        const long = 'x'.repeat(10_000);
        await directory.bind(long, record);
        assert.deepEqual(await directory.lookup(long), record);
        assert.equal(await directory.lookup(`${long}y`), undefined);
        await directory.bind('a:b\u0000c', { ...record, owner: 'carol' });
        assert.equal((await directory.lookup('a:b\u0000c'))?.owner, 'carol');
      } finally {
        await close();
      }
    });
  });
}

contract('memory', async (ttl) => ({ directory: new MemorySessionDirectory(ttl), close: async () => {} }));
const opened: { cleanup(): Promise<void> }[] = [];
after(async () => { for (const o of opened) await o.cleanup(); });
contract('Redis', async (ttl) => {
  const conn = await openTestRedis();
  opened.push(conn);
  return { directory: new RedisSessionDirectory(conn.redis, 'notes', ttl), close: async () => {} };
});

test('Redis session directory: shared by two instances; unreachable, lookup rejects (never "unknown")', async () => {
  const proxy = await RedisProxy.start();
  const a = await openTestRedis();
  const b = await openTestRedis({ keyPrefix: a.keyPrefix, url: proxy.url, commandTimeout: 200 });
  try {
    const onA = new RedisSessionDirectory(a.redis, 'notes', 60_000);
    const onB = new RedisSessionDirectory(b.redis, 'notes', 60_000);
    await onA.bind('shared', record);
    assert.deepEqual(await onB.lookup('shared'), record);
    await proxy.stop();
    await assert.rejects(onB.lookup('shared'), (err: Error & { code?: string }) => err.code === 'shared_state_unavailable');
  } finally {
    await b.redis.close();
    await proxy.stop();
    await a.cleanup();
  }
});
