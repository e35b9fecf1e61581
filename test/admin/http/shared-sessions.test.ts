import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdminSessions, type AdminSession } from '../../../src/admin/http/sessions.js';
import { RedisPendingStore } from '../../../src/store/redis/pending.js';
import { openTestRedis } from '../../helpers/redis.js';

/** Console sessions with several instances (real Redis): a console request may reach any gateway behind the balancer. */

test('a console session opened on instance A is the same on B: re-authentication and sign-out carry over; Redis holds no token', async () => {
  const a = await openTestRedis();
  const b = await openTestRedis({ keyPrefix: a.keyPrefix });
  try {
    const onA = new AdminSessions(60_000, new RedisPendingStore<AdminSession>(a.redis, 'admin-session'));
    const onB = new AdminSessions(60_000, new RedisPendingStore<AdminSession>(b.redis, 'admin-session'));
    const { token, session } = await onA.create('root');
    const seenOnB = await onB.get(token);
    assert.deepEqual(seenOnB, session, 'B knows the session A opened');
    assert.equal(await onB.get(`${token}x`), undefined, 'control: another token opens nothing');

    await new Promise((r) => setTimeout(r, 5));
    await onB.reauthenticated(seenOnB!);
    assert.equal((await onA.get(token))!.authAt, seenOnB!.authAt, 'a password proved on B counts on A');

    const stored = await a.redis.client.keys(`${a.keyPrefix}*`);
    const values = await Promise.all(stored.map((k) => a.redis.client.get(k)));
    assert.ok(stored.every((k) => !k.includes(token)) && values.every((v) => !v?.includes(token)), 'neither keys nor values hold the cookie token');
    const ttl = await a.redis.client.pttl(stored[0]!);
    assert.ok(ttl > 0 && ttl <= 60_000, `expires with the session (${ttl} ms)`);

    await onA.end(token);
    assert.equal(await onB.get(token), undefined, 'signed out on A: gone on B');
  } finally {
    await b.redis.close();
    await a.cleanup();
  }
});
