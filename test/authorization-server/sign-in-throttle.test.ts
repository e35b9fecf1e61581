import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { SignInThrottle, type SignInThrottleOptions } from '../../src/authorization-server/sign-in-throttle.js';
import { ConfigError, parseConfigText } from '../../src/config/index.js';

/** A throttle on a clock the test moves. */
function throttle(options: Partial<SignInThrottleOptions> = {}) {
  const clock = { now: 1_000_000 };
  const t = new SignInThrottle({
    perAddress: { after: 3, initial: 1_000, max: 8_000 },
    perAccount: false,
    now: () => clock.now,
    ...options,
  });
  return { t, clock };
}

test('per username and address: after the 3rd failure, waits of 1 s, 2 s, 4 s, capped at max', () => {
  const { t, clock } = throttle();
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(t.check('alice', '10.0.0.1'), { ok: true }, `free failure ${i + 1}`);
    t.failed('alice', '10.0.0.1');
  }
  // The 3rd try is allowed; its failure starts the waits.
  assert.deepEqual(t.check('alice', '10.0.0.1'), { ok: true });
  const waits: number[] = [];
  for (let i = 0; i < 6; i++) {
    t.failed('alice', '10.0.0.1');
    const verdict = t.check('alice', '10.0.0.1');
    assert.equal(verdict.ok, false);
    if (!verdict.ok) waits.push(verdict.retryAfterSeconds);
    if (!verdict.ok) assert.equal(verdict.scope, 'address');
    clock.now += (waits.at(-1) ?? 0) * 1_000;
    assert.deepEqual(t.check('alice', '10.0.0.1'), { ok: true }, 'the wait is over');
  }
  assert.deepEqual(waits, [1, 2, 4, 8, 8, 8]);
});

test('the owner on another address, and another user on the same address, are not slowed', () => {
  const { t } = throttle();
  for (let i = 0; i < 10; i++) t.failed('alice', '203.0.113.9');
  assert.equal(t.check('alice', '203.0.113.9').ok, false, 'control: the guessing address waits');
  assert.deepEqual(t.check('alice', '198.51.100.7'), { ok: true });
  assert.deepEqual(t.check('bob', '203.0.113.9'), { ok: true });
});

test('a success clears the pair; the per-account count is left to decay', () => {
  const { t, clock } = throttle({ perAccount: { after: 4, initial: 5_000, max: 5_000 } });
  for (let i = 0; i < 4; i++) t.failed('alice', '10.0.0.1');
  clock.now += 60_000;
  t.succeeded('alice', '10.0.0.1');
  assert.deepEqual(t.check('alice', '10.0.0.1'), { ok: true });
  t.failed('alice', '10.0.0.1'); // 1st failure of the pair, 5th of the account
  const verdict = t.check('alice', '10.0.0.2');
  assert.deepEqual(verdict, { ok: false, retryAfterSeconds: 5, scope: 'account' }, 'the account count survived the success');
});

test('per account: failures spread over many addresses are slowed too, and never more than its max', () => {
  const { t, clock } = throttle({ perAccount: { after: 5, initial: 1_000, max: 2_000 } });
  for (let i = 0; i < 4; i++) {
    assert.deepEqual(t.check('alice', `10.0.1.${i}`), { ok: true });
    t.failed('alice', `10.0.1.${i}`);
  }
  assert.deepEqual(t.check('alice', '10.0.2.1'), { ok: true }, 'control: 4 failures are free');
  t.failed('alice', '10.0.2.1');
  assert.deepEqual(t.check('alice', '10.0.3.1'), { ok: false, retryAfterSeconds: 1, scope: 'account' }, 'a fresh address waits');
  for (let i = 0; i < 20; i++) t.failed('alice', `10.0.4.${i}`);
  assert.deepEqual(t.check('alice', '10.0.5.1'), { ok: false, retryAfterSeconds: 2, scope: 'account' }, 'capped: a slow-down, not a lockout');
  clock.now += 2_000;
  assert.deepEqual(t.check('alice', '10.0.5.1'), { ok: true });
  assert.deepEqual(t.check('bob', '10.0.5.1'), { ok: true }, 'other accounts are not affected');
});

test('unknown usernames are counted exactly like real ones (the throttle never knows which exist)', () => {
  const { t } = throttle();
  for (let i = 0; i < 5; i++) {
    t.failed('alice', '10.0.0.1');
    t.failed('no-such-user', '10.0.0.1');
  }
  assert.deepEqual(t.check('alice', '10.0.0.1'), t.check('no-such-user', '10.0.0.1'));
  assert.equal(t.check('alice', '10.0.0.1').ok, false);
});

test('failures are forgotten after forgetAfterMs without one; memory is bounded by maxKeys', () => {
  const { t, clock } = throttle({ forgetAfterMs: 60_000, maxKeys: 3 });
  for (let i = 0; i < 6; i++) t.failed('alice', '10.0.0.1');
  assert.equal(t.check('alice', '10.0.0.1').ok, false);
  clock.now += 60_000;
  assert.deepEqual(t.check('alice', '10.0.0.1'), { ok: true });
  t.failed('alice', '10.0.0.1');
  assert.deepEqual(t.check('alice', '10.0.0.1'), { ok: true }, 'counting starts from 0 again');

  for (let i = 0; i < 6; i++) t.failed('carol', '10.0.0.9');
  assert.equal(t.check('carol', '10.0.0.9').ok, false);
  for (const u of ['u1', 'u2', 'u3']) t.failed(u, '10.0.0.9');
  assert.deepEqual(t.check('carol', '10.0.0.9'), { ok: true }, 'the least recently used entry went first');
});

test('pair keys cannot be confused by a username that contains the separator of another encoding', () => {
  const { t } = throttle();
  for (let i = 0; i < 6; i++) t.failed('a\u0000b', 'c');
  assert.equal(t.check('a\u0000b', 'c').ok, false);
  assert.deepEqual(t.check('a', 'b\u0000c'), { ok: true });
});

describe('config: auth.oauth.login', () => {
  const yaml = (login: string[]) => ['auth:', '  oauth:', '    login:', ...login.map((l) => `      ${l}`), 'authorization:', '  scopes: { "notes:read": { tools: [search_notes] } }', 'upstreams:', '  notes:', '    url: http://127.0.0.1:3000/mcp', ''].join('\n');
  const loginOf = (text: string) => {
    const { config } = parseConfigText(text, 'warden.yaml', {});
    assert.ok(config.auth !== 'none' && config.auth.oauth);
    return config.auth.oauth.login;
  };

  test('defaults: back-off from the 5th failure, 1 s doubling to 15 min; per account from the 100th, up to 1 min', () => {
    assert.deepEqual(loginOf(yaml(['perIp: { requestsPerSecond: 0.5, burst: 10 }'])), {
      perIp: { requestsPerSecond: 0.5, burst: 10 },
      backoff: { after: 5, initial: 1_000, max: 900_000 },
      perAccount: { after: 100, initial: 1_000, max: 60_000 },
    });
    assert.equal(loginOf(yaml(['perAccount: false'])).perAccount, false);
    assert.deepEqual(loginOf(yaml(['backoff: { after: 3, initial: 500ms, max: 1h }'])).backoff, { after: 3, initial: 500, max: 3_600_000 });
  });

  test('maxFailures and lockout of earlier versions are refused naming what replaced them', () => {
    for (const [key, replacement] of [['maxFailures: 5', 'login.backoff.after'], ['lockout: 15m', 'login.backoff.max']] as const) {
      assert.throws(() => parseConfigText(yaml([key]), 'warden.yaml', {}), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.issues.length, 1, JSON.stringify(err.issues));
        assert.equal(err.issues[0]!.path, `auth.oauth.login.${key.split(':')[0]}`);
        assert.ok(err.issues[0]!.message.includes(replacement), err.issues[0]!.message);
        return true;
      });
    }
  });

  test('a max below initial, or an after of 0, is refused', () => {
    assert.throws(() => parseConfigText(yaml(['backoff: { after: 3, initial: 10s, max: 5s }']), 'warden.yaml', {}), /max must be at least initial/);
    assert.throws(() => parseConfigText(yaml(['backoff: { after: 0, initial: 1s, max: 5s }']), 'warden.yaml', {}), /backoff\.after/);
  });
});
