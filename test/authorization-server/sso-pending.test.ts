import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse, IncomingMessage } from 'node:http';
import { SsoSignIn, type Pending } from '../../src/authorization-server/sso.js';
import type { CompanyIdp } from '../../src/authorization-server/company-idp.js';
import { MemoryPendingStore, RedisPendingStore } from '../../src/store/redis/pending.js';
import { openTestRedis, RedisProxy } from '../helpers/redis.js';

/**
 * Pending company sign-ins in Redis: the IdP's callback may land on another instance than the one that sent
 * the browser to the IdP. (The whole flow through a real IdP and browser is test/authorization-server/sso.test.ts;
 * here the IdP is only its published endpoints, since what is tested is where the pending state lives.)
 */
const idp = {
  issuer: 'https://idp.example',
  metadata: { authorization_endpoint: 'https://idp.example/auth', token_endpoint: 'https://idp.example/token' },
  config: { sso: { clientId: 'warden', clientSecret: 'x', scopes: ['openid'] } },
} as unknown as CompanyIdp;

/** A ServerResponse that only notes its status and Location. */
function response() {
  const answer = { status: 0, location: '' };
  const res = {
    writeHead(status: number, headers: Record<string, string>) {
      answer.status = status;
      answer.location = headers.location ?? '';
      return { end() {} };
    },
  } as unknown as ServerResponse;
  return { res, answer };
}
const request = (url: string) => ({ url } as IncomingMessage);

function instance(pending: MemoryPendingStore<Pending> | RedisPendingStore<Pending>) {
  return new SsoSignIn({ issuer: 'https://gw.example', idps: [idp], users: {} as never, pending });
}

describe('pending company sign-ins across instances', () => {
  test('started on A, the IdP calls back B, the browser finishes on B; used once; bound to the browser that started it', async () => {
    const a = await openTestRedis();
    const b = await openTestRedis({ keyPrefix: a.keyPrefix });
    try {
      const onA = instance(new RedisPendingStore<Pending>(a.redis, 'sso'));
      const onB = instance(new RedisPendingStore<Pending>(b.redis, 'sso'));
      const started = response();
      assert.equal(await onA.start('uid-1', 0, started.res), true);
      const state = new URL(started.answer.location).searchParams.get('state')!;
      assert.ok(state);
      // The state is a bearer value: Redis holds its hash, never the value itself.
      const keys = await a.redis.client.keys(`${a.keyPrefix}pending:sso:*`);
      assert.equal(keys.length, 1);
      assert.ok(!keys[0]!.includes(state));
      const back = response();
      assert.equal(await onB.callback(request(`/oauth/sso/callback?state=${state}&error=access_denied`), back.res), true, 'B knows the sign-in A started');
      assert.equal(back.answer.status, 303);
      // Another browser (another interaction uid) cannot finish it...
      const stranger = await onB.finish('uid-other', state);
      assert.equal(stranger.ok, false);
      assert.equal(!stranger.ok && stranger.reason, 'sso: unknown or expired state');
      // ...and that attempt used it up (once, whatever happens), so the state is refused from now on.
      const owner = await onA.finish('uid-1', state);
      assert.equal(!owner.ok && owner.reason, 'sso: unknown or expired state');
      // Control: a new sign-in, finished by the browser that started it, reaches the IdP's answer.
      const again = response();
      await onA.start('uid-2', 0, again.res);
      const state2 = new URL(again.answer.location).searchParams.get('state')!;
      await onB.callback(request(`/oauth/sso/callback?state=${state2}&error=access_denied`), response().res);
      const finished = await onA.finish('uid-2', state2);
      assert.equal(!finished.ok && finished.reason, 'sso: the IdP answered access_denied');
    } finally {
      await b.redis.close();
      await a.cleanup();
    }
  });

  test('control: in memory, a callback on another instance knows nothing of the sign-in (why one instance needs affinity)', async () => {
    const onA = instance(new MemoryPendingStore<Pending>());
    const onB = instance(new MemoryPendingStore<Pending>());
    const started = response();
    await onA.start('uid-1', 0, started.res);
    const state = new URL(started.answer.location).searchParams.get('state')!;
    assert.equal(await onB.callback(request(`/oauth/sso/callback?state=${state}&code=c`), response().res), false);
    assert.equal(await onA.callback(request(`/oauth/sso/callback?state=${state}&code=c`), response().res), true);
  });

  test('Redis unreachable: starting rejects (the page answers 503), finishing is refused with 503', async () => {
    const proxy = await RedisProxy.start();
    const { redis, cleanup } = await openTestRedis({ url: proxy.url, commandTimeout: 200 });
    try {
      const sso = instance(new RedisPendingStore<Pending>(redis, 'sso'));
      await proxy.stop();
      await assert.rejects(sso.start('uid-1', 0, response().res), (err: Error & { code?: string }) => err.code === 'shared_state_unavailable');
      const finished = await sso.finish('uid-1', 'some-state');
      assert.equal(!finished.ok && finished.status, 503);
    } finally {
      await redis.close();
      await proxy.stop();
      await cleanup().catch(() => {});
    }
  });
});
