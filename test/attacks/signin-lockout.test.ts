import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  FormBrowser, PASSWORD, auditRecords, eventually, registerClient, startOAuthGatewayForAttacks, type OAuthSetup,
} from '../helpers/oauth.js';
import { codeRequest, openInteraction, pkcePair } from '../helpers/oauth-flow.js';

/**
 * Locking a real user out by guessing (issue 13, item 4): with a lockout per account, anyone who knows a
 * username can keep its owner out by typing wrong passwords. Here failures slow down only the username and
 * address that made them (1 s, 2 s, 4 s … capped), and a per-username ceiling slows guessing spread over
 * many addresses without ever refusing for longer than its own cap.
 */

let setup: OAuthSetup;

before(async () => {
  setup = await startOAuthGatewayForAttacks(
    {
      login: {
        perIp: { requestsPerSecond: 100, burst: 1_000 },
        // Waits of 5 s: a sign-in takes up to a second on a loaded machine, and the next try must land inside the wait.
        backoff: { after: 3, initial: '5s', max: '20s' },
        perAccount: { after: 8, initial: '5s', max: '5s' },
      },
    },
    { http: { trustProxy: 1 } },
  );
});
after(async () => {
  await setup?.close();
});

/** A sign-in page seen from `address`. */
async function signInPage(address: string) {
  const { client_id } = await registerClient(setup.issuer);
  const browser = new FormBrowser(setup.issuer, { 'x-forwarded-for': address });
  const login = await openInteraction(browser, codeRequest(setup.issuer, client_id, pkcePair(), { resource: setup.notes }));
  return {
    clientId: client_id,
    async attempt(username: string, password: string) {
      const res = await browser.request(login.action, { form: { csrf: login.csrf, username, password } });
      return { status: res.status, retryAfter: res.headers.get('retry-after'), location: res.headers.get('location'), html: await res.text() };
    },
  };
}

test('account lockout by guessing: the guessing address waits 5 s, then 10 s; the owner at another address signs in at once', async () => {
  const attacker = await signInPage('203.0.113.66');
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) statuses.push((await attacker.attempt('alice', `guess ${i}`)).status);
  assert.deepEqual(statuses, [401, 401, 401], 'the first failures are answered normally');
  const slowed = await attacker.attempt('alice', 'guess 3');
  assert.equal(slowed.status, 429);
  const first = Number(slowed.retryAfter);
  assert.ok(first >= 1 && first <= 5, `Retry-After ${first}`);
  // While it waits, even the right password from that address is not looked at: guessing cannot go faster.
  const rightButWaiting = await attacker.attempt('alice', PASSWORD);
  assert.equal(rightButWaiting.status, 429);
  assert.equal(rightButWaiting.location, null, 'no sign-in');

  // The owner, elsewhere, is not locked out.
  const owner = await signInPage('198.51.100.7');
  const signedIn = await owner.attempt('alice', PASSWORD);
  assert.equal(signedIn.status, 303, signedIn.html.slice(0, 300));

  // Once the wait is over the guesser's next try is checked again; its failure doubles the wait (10 s).
  await sleep(5_100);
  assert.equal((await attacker.attempt('alice', 'guess 4')).status, 401);
  const doubled = await attacker.attempt('alice', 'guess 5');
  assert.equal(doubled.status, 429);
  assert.ok(Number(doubled.retryAfter) > 5 && Number(doubled.retryAfter) <= 10, `Retry-After ${doubled.retryAfter}`);

  const records = await eventually('the refusals', async () => {
    const mine = (await auditRecords(setup.dbPath)).filter((r) => r.method === 'oauth.sign_in_failed' && r.clientId === attacker.clientId);
    return mine.length >= 7 ? mine : undefined;
  });
  assert.deepEqual(records.map((r) => String(r.reason).split(':')[0]), [
    'wrong_password', 'wrong_password', 'wrong_password', 'throttled', 'throttled', 'wrong_password', 'throttled',
  ]);
  assert.ok(records.every((r) => r.ip === '203.0.113.66' && r.subject === 'alice'));
  assert.ok(records.filter((r) => String(r.reason).startsWith('throttled')).every((r) => /from this address/.test(String(r.reason))));
});

test('distributed guessing: the per-username ceiling slows every address for that username, for at most its cap, and no other user', async () => {
  // 8 failures for bob, one from each of 8 addresses: no address reaches its own back-off (3).
  for (let i = 0; i < 8; i++) {
    const guesser = await signInPage(`192.0.2.${i + 1}`);
    assert.equal((await guesser.attempt('bob', `spread guess ${i}`)).status, 401, `address ${i + 1}`);
  }
  const fresh = await signInPage('192.0.2.200');
  const slowed = await fresh.attempt('bob', PASSWORD);
  assert.equal(slowed.status, 429, 'a fresh address waits for bob too');
  assert.ok(Number(slowed.retryAfter) <= 5, `never more than perAccount.max: ${slowed.retryAfter}`);
  // Control: another user from that address is not slowed.
  assert.equal((await fresh.attempt('alice', 'not alice\'s password')).status, 401);
  // A slow-down, not a lockout: after the cap bob signs in.
  await sleep(Number(slowed.retryAfter) * 1_000 + 100);
  const later = await fresh.attempt('bob', PASSWORD);
  assert.equal(later.status, 303, later.html.slice(0, 300));
  const throttled = await eventually('the ceiling refusal', async () => (await auditRecords(setup.dbPath))
    .find((r) => r.method === 'oauth.sign_in_failed' && r.clientId === fresh.clientId && String(r.reason).startsWith('throttled')));
  assert.match(String(throttled.reason), /from all addresses/);
});

test('parallel guessing cannot outrun the back-off: of 10 simultaneous wrong passwords from one address, 3 are checked', async () => {
  const guesser = await signInPage('203.0.113.77');
  const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => guesser.attempt('erin', `parallel guess ${i}`)));
  const statuses = answers.map((a) => a.status).sort();
  assert.deepEqual(statuses, [401, 401, 401, 429, 429, 429, 429, 429, 429, 429]);
  assert.ok(answers.every((a) => a.location === null), 'no sign-in');
  // Control: a burst spread over 6 addresses (below the per-account ceiling of 8) is checked in full.
  const spread = await Promise.all(Array.from({ length: 6 }, async (_, i) => (await signInPage(`203.0.113.${180 + i}`)).attempt('frank', `guess ${i}`)));
  assert.deepEqual(spread.map((a) => a.status), Array(6).fill(401));
});
