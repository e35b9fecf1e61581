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

/** An allowed attempt whose password was wrong (attempt() counts it in advance). */
function guess(t: SignInThrottle, username: string, address: string, label = `${username} from ${address}`): void {
  assert.deepEqual(t.attempt(username, address), { ok: true }, label);
}

test('per username and address: from the 3rd failure on, waits of 1 s, 2 s, 4 s, capped at max', () => {
  const { t, clock } = throttle();
  for (let i = 0; i < 3; i++) guess(t, 'alice', '10.0.0.1', `free attempt ${i + 1}`);
  const waits: number[] = [];
  for (let i = 0; i < 6; i++) {
    const verdict = t.attempt('alice', '10.0.0.1');
    assert.equal(verdict.ok, false);
    if (verdict.ok) return;
    assert.equal(verdict.scope, 'address');
    waits.push(verdict.retryAfterSeconds);
    clock.now += verdict.retryAfterSeconds * 1_000;
    guess(t, 'alice', '10.0.0.1', 'the wait is over: checked again, and wrong again');
  }
  assert.deepEqual(waits, [1, 2, 4, 8, 8, 8]);
});

test('a refused attempt is not counted; parallel attempts cannot all pass before the first is verified', () => {
  const { t } = throttle();
  // Ten attempts arrive together: each is counted as it is let through, so only the first three are.
  const verdicts = Array.from({ length: 10 }, () => t.attempt('alice', '10.0.0.1').ok);
  assert.deepEqual(verdicts, [true, true, true, false, false, false, false, false, false, false]);
  const refused = t.attempt('alice', '10.0.0.1');
  assert.deepEqual(refused, { ok: false, retryAfterSeconds: 1, scope: 'address' }, 'still the first wait: refusals did not add to it');
});

test('the owner on another address, and another user on the same address, are not slowed', () => {
  const { t } = throttle();
  for (let i = 0; i < 3; i++) guess(t, 'alice', '203.0.113.9');
  assert.equal(t.attempt('alice', '203.0.113.9').ok, false, 'control: the guessing address waits');
  guess(t, 'alice', '198.51.100.7');
  guess(t, 'bob', '203.0.113.9');
});

test('the right password clears the pair, and takes back only its own attempt from the per-account count', () => {
  const { t, clock } = throttle({ perAccount: { after: 4, initial: 5_000, max: 5_000 } });
  guess(t, 'alice', '10.0.0.1');
  guess(t, 'alice', '10.0.0.1');
  guess(t, 'alice', '10.0.0.2');
  clock.now += 60_000;
  assert.deepEqual(t.attempt('alice', '10.0.0.1'), { ok: true }, 'the 4th attempt is let through (and counted)');
  t.succeeded('alice', '10.0.0.1'); // …and it was the right password: the account is back at 3
  guess(t, 'alice', '10.0.0.1', 'the pair starts afresh, and the account is not slowed by the owner\'s success');
  assert.deepEqual(t.attempt('alice', '10.0.0.3'), { ok: false, retryAfterSeconds: 5, scope: 'account' }, 'the 4th failure counts: the success did not reset it');
});

test('per account: failures spread over many addresses are slowed too, and never more than its max', () => {
  const { t, clock } = throttle({ perAccount: { after: 5, initial: 1_000, max: 2_000 } });
  for (let i = 0; i < 4; i++) guess(t, 'alice', `10.0.1.${i}`);
  guess(t, 'alice', '10.0.2.1', 'control: the 5th attempt is let through');
  assert.deepEqual(t.attempt('alice', '10.0.3.1'), { ok: false, retryAfterSeconds: 1, scope: 'account' }, 'a fresh address waits');
  for (let i = 0; i < 20; i++) {
    clock.now += 2_000;
    guess(t, 'alice', `10.0.4.${i}`);
  }
  assert.deepEqual(t.attempt('alice', '10.0.5.1'), { ok: false, retryAfterSeconds: 2, scope: 'account' }, 'capped: a slow-down, not a lockout');
  clock.now += 2_000;
  guess(t, 'alice', '10.0.5.1');
  guess(t, 'bob', '10.0.5.1', 'other accounts are not affected');
});

test('unknown usernames are counted exactly like real ones (the throttle never knows which exist)', () => {
  const { t } = throttle();
  for (let i = 0; i < 3; i++) {
    guess(t, 'alice', '10.0.0.1');
    guess(t, 'no-such-user', '10.0.0.1');
  }
  assert.deepEqual(t.attempt('alice', '10.0.0.1'), t.attempt('no-such-user', '10.0.0.1'));
  assert.equal(t.attempt('alice', '10.0.0.1').ok, false);
});

test('failures are forgotten after forgetAfterMs without one; memory is bounded by maxKeys', () => {
  const { t, clock } = throttle({ forgetAfterMs: 60_000, maxKeys: 3 });
  for (let i = 0; i < 3; i++) guess(t, 'alice', '10.0.0.1');
  assert.equal(t.attempt('alice', '10.0.0.1').ok, false);
  clock.now += 60_000;
  for (let i = 0; i < 3; i++) guess(t, 'alice', '10.0.0.1', `counting starts from 0 again (${i + 1})`);

  for (let i = 0; i < 3; i++) guess(t, 'carol', '10.0.0.9');
  assert.equal(t.attempt('carol', '10.0.0.9').ok, false);
  for (const u of ['u1', 'u2', 'u3']) guess(t, u, '10.0.0.9');
  guess(t, 'carol', '10.0.0.9', 'the least recently used entry went first');
});

test('pair keys cannot be confused by a username that contains the separator of another encoding', () => {
  const { t } = throttle();
  for (let i = 0; i < 3; i++) guess(t, 'a\u0000b', 'c');
  assert.equal(t.attempt('a\u0000b', 'c').ok, false);
  guess(t, 'a', 'b\u0000c');
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
