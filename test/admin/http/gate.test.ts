import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { SqliteStore } from '../../../src/store/index.js';
import { UserDirectory } from '../../../src/authorization-server/users.js';
import { SignInThrottle } from '../../../src/authorization-server/sign-in-throttle.js';
import { TokenBucketLimiter } from '../../../src/ratelimit/index.js';
import { LOGIN_BACKOFF, LOGIN_PER_ACCOUNT } from '../../../src/config/index.js';
import { AdminGate, SESSION_COOKIE } from '../../../src/admin/http/gate.js';
import { AdminHttpError } from '../../../src/admin/http/errors.js';
import { MemoryPendingStore } from '../../../src/store/redis/pending.js';
import { AdminSessions, type AdminSession } from '../../../src/admin/http/sessions.js';
import type { AuditRecord } from '../../../src/audit/index.js';
import { PASSWORD } from '../../helpers/oauth.js';

/** The admin gate on a real SQLite store: re-authentication after admin.reauthAfter, session expiry, the shared back-off. */

const META = { ip: '127.0.0.1', requestId: 'r1' };
const ADMIN = { roles: ['admin'], allowRemote: false, sessionTtl: 3_600_000, reauthAfter: 300_000, perIp: { requestsPerSecond: 5, burst: 100 } };

async function withGate(fn: (gate: AdminGate, records: AuditRecord[]) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-gate-'));
  const store = new SqliteStore(join(dir, 'w.db'));
  const users = new UserDirectory(store.users);
  await users.add({ username: 'root', password: PASSWORD, roles: ['admin'] });
  const records: AuditRecord[] = [];
  const gate = new AdminGate({
    admin: ADMIN, users, apiKeys: undefined, instance: 'test', secure: true, passwords: true,
    signIns: { perIp: new TokenBucketLimiter({ ratePerSecond: 100, burst: 100 }), throttle: new SignInThrottle({ perAddress: LOGIN_BACKOFF, perAccount: LOGIN_PER_ACCOUNT }) },
    record: async (r) => void records.push(r),
  });
  try {
    await fn(gate, records);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const request = (token: string) => ({ headers: { cookie: `${SESSION_COOKIE}=${token}` } }) as unknown as IncomingMessage;

test('a destructive change needs the password again once the sign-in is older than reauthAfter', async () => {
  await withGate(async (gate, records) => {
    const { token, session } = await gate.signIn('root', PASSWORD, META);
    const identity = await gate.identify(request(token), META);
    gate.checkRecent(identity, session.authAt + 60_000);
    assert.throws(() => gate.checkRecent(identity, session.authAt + 300_001), (e: unknown) => e instanceof AdminHttpError && e.code === 'reauth_required' && e.status === 401);
    await assert.rejects(gate.reauthenticate(identity, 'not the password!', META), (e: unknown) => e instanceof AdminHttpError && e.code === 'unauthorized');
    assert.ok(records.some((r) => r.method === 'admin.reauthenticate' && r.decision === 'deny'));
    await gate.reauthenticate(identity, PASSWORD, META);
    gate.checkRecent(identity, Date.now() + 60_000);
    assert.ok(records.some((r) => r.method === 'admin.reauthenticate' && r.decision === 'allow'));
  });
});

test('a company sign-in\'s session has no password here: past reauthAfter it is sent to sign in again, and the password route refuses it', async () => {
  await withGate(async (gate, records) => {
    const outcome = { ok: true as const, username: 'root', issuer: 'https://idp.example', rolesRemoved: false };
    const { token, session } = await gate.signInWithCompany(outcome, META);
    assert.equal(session.sso, true);
    assert.match(records.at(-1)?.reason ?? '', /company sign-in at https:\/\/idp\.example/);
    const identity = await gate.identify(request(token), META);
    gate.checkRecent(identity, session.authAt + 60_000);
    assert.throws(() => gate.checkRecent(identity, session.authAt + 300_001), (e: unknown) => e instanceof AdminHttpError && e.code === 'reauth_required' && /company account/.test(e.message));
    await assert.rejects(gate.reauthenticate(identity, PASSWORD, META), (e: unknown) => e instanceof AdminHttpError && e.code === 'invalid_input' && /no password here/.test(e.message));
    // The control: a password session of the same user re-authenticates.
    const password = await gate.signIn('root', PASSWORD, META);
    await gate.reauthenticate(await gate.identify(request(password.token), META), PASSWORD, META);
  });
});

test('a refused company sign-in says why by status: the browser\'s own mistake 400, an IdP that failed 502, a refusal 403; each recorded', async () => {
  await withGate(async (gate, records) => {
    for (const [status, code] of [[400, 'invalid_input'], [502, 'idp_unavailable'], [403, 'forbidden']] as const) {
      const before = records.length;
      const outcome = { ok: false as const, status, message: `refused with ${status}`, reason: `sso: test ${status}`, subject: 'root' };
      await assert.rejects(gate.signInWithCompany(outcome, META), (e: unknown) => e instanceof AdminHttpError && e.code === code && e.status === status);
      assert.ok(records.slice(before).some((r) => r.decision === 'deny' && r.reason.includes(`sso: test ${status}`)), `${status}: recorded`);
    }
  });
});

test('cookies are HttpOnly, SameSite=Strict and Secure when the gateway is reached over https', async () => {
  await withGate(async (gate) => {
    const cookie = gate.cookie('t');
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.match(cookie, /Secure/);
    assert.match(cookie, /Path=\/admin/);
  });
});

test('guessing is slowed by the same back-off as the authorization server\'s sign-in (429 with Retry-After), the owner elsewhere is not', async () => {
  await withGate(async (gate) => {
    for (let i = 0; i < LOGIN_BACKOFF.after; i++) await assert.rejects(gate.signIn('root', 'wrong password!', META), (e: unknown) => e instanceof AdminHttpError && e.code === 'unauthorized');
    await assert.rejects(gate.signIn('root', PASSWORD, META), (e: unknown) => e instanceof AdminHttpError && e.code === 'rate_limited' && Number(e.headers['retry-after']) >= 1);
    const elsewhere = await gate.signIn('root', PASSWORD, { ...META, ip: '127.0.0.2' });
    assert.ok(elsewhere.token);
  });
});

test('sessions expire after sessionTtl; the token is not the key they are kept under; a re-authentication is kept', async () => {
  let now = 1_000;
  const store = new MemoryPendingStore<AdminSession>(100, () => now);
  const sessions = new AdminSessions(10_000, store, () => now);
  const { token, session } = await sessions.create('root');
  assert.deepEqual(await sessions.get(token), session);
  assert.equal(await sessions.get(`${token}x`), undefined);
  assert.equal(await store.get(token), undefined, 'kept under the SHA-256 of the token, not the token');
  now += 5_000;
  const seen = (await sessions.get(token))!;
  await sessions.reauthenticated(seen);
  assert.equal((await sessions.get(token))!.authAt, now, 'written back, so another instance sees it too');
  await sessions.end(token);
  assert.equal(await sessions.get(token), undefined, 'signed out');
  const again = await sessions.create('root');
  now += 10_001;
  assert.equal(await sessions.get(again.token), undefined, 'expired');
});
