import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/index.js';
import {
  DUMMY_PASSWORD_HASH, hashPassword, needsRehash, passwordProblem, verifyPassword,
} from '../../src/authorization-server/password.js';
import { UserDirectory, UserError } from '../../src/authorization-server/users.js';

const PASSWORD = 'correct horse battery staple';
const HASH_FORMAT = /^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/;

let dir: string;
let n = 0;
const stores: SqliteStore[] = [];

/** A store of its own per test, so the tests run in parallel. */
function directory(): { users: UserDirectory; store: SqliteStore } {
  const store = new SqliteStore(join(dir, `u${++n}.db`));
  stores.push(store);
  return { users: new UserDirectory(store.users), store };
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'warden-users-'));
});
after(async () => {
  for (const s of stores) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('password hashing', { concurrency: true }, () => {
  test('self-describing scrypt format, salted: two hashes of one password differ', async () => {
    const [a, b] = await Promise.all([hashPassword(PASSWORD), hashPassword(PASSWORD)]);
    assert.match(a, HASH_FORMAT);
    assert.match(b, HASH_FORMAT);
    assert.notEqual(a, b);
    assert.ok(!a.includes(PASSWORD));
    assert.equal(needsRehash(a), false);
    assert.match(DUMMY_PASSWORD_HASH, HASH_FORMAT);
  });

  test('verifies the right password and refuses a wrong one; Unicode forms are normalized', async () => {
    const stored = await hashPassword(PASSWORD);
    assert.equal(await verifyPassword(stored, PASSWORD), true);
    assert.equal(await verifyPassword(stored, `${PASSWORD} `), false);
    assert.equal(await verifyPassword(stored, PASSWORD.toUpperCase()), false);
    assert.equal(await verifyPassword(stored, ''), false);
    const composed = 'caf\u00e9 au lait, s\u2019il vous pla\u00eet';
    const decomposed = composed.normalize('NFD');
    assert.notEqual(composed, decomposed);
    assert.equal(await verifyPassword(await hashPassword(composed), decomposed), true);
  });

  test('a hash in an unknown format, or with out-of-bounds parameters, verifies nothing', async () => {
    const stored = await hashPassword(PASSWORD);
    const [, , , , salt, hash] = stored.split('$') as string[];
    const bad = [
      '', PASSWORD, 'plain:secret', `$2b$12$${'a'.repeat(53)}`, `argon2id$v=19$m=65536,t=3,p=4$${salt}$${hash}`,
      stored.replace(/^scrypt/, 'SCRYPT'), `${stored}$extra`, stored.split('$').slice(0, 5).join('$'),
      `scrypt$30000$8$1$${salt}$${hash}`, // N not a power of two
      `scrypt$1024$8$1$${salt}$${hash}`, // too cheap
      `scrypt$1073741824$8$1$${salt}$${hash}`, // would take 128 GiB
      `scrypt$32768$8$1$${salt}$${hash!.slice(0, 20)}`, // truncated hash
      `scrypt$32768$8$1$${salt!.slice(0, 8)}$${hash}`, // short salt
      `scrypt$032768$8$1$${salt}$${hash}`, `scrypt$32768$8$1$${salt}$${hash}=`, `scrypt$32768$-8$1$${salt}$${hash}`,
    ];
    for (const b of bad) assert.equal(await verifyPassword(b, PASSWORD), false, b);
    for (const b of bad) assert.equal(needsRehash(b), true, b);
    const flipped = `${stored.slice(0, -2)}${stored.at(-2) === 'A' ? 'B' : 'A'}${stored.at(-1)}`;
    assert.equal(await verifyPassword(flipped, PASSWORD), false);
  });

  test('passwordProblem: at least 12 and at most 1024 characters', () => {
    assert.match(passwordProblem('')!, /too short \(0 characters\).*at least 12/);
    assert.match(passwordProblem('elevenchars')!, /too short/);
    assert.equal(passwordProblem('twelve chars'), undefined);
    assert.equal(passwordProblem('\u{1F511}'.repeat(12)), undefined, 'counted in characters, not UTF-16 units');
    assert.match(passwordProblem('\u{1F511}'.repeat(11))!, /too short/);
    assert.equal(passwordProblem('x'.repeat(1024)), undefined);
    assert.match(passwordProblem('x'.repeat(1025))!, /too long \(1025 characters\).*at most 1024/);
  });
});

describe('UserDirectory', { concurrency: true }, () => {
  test('add, get and list: the hash is stored, never handed out', async () => {
    const { users, store } = directory();
    const added = await users.add({ username: 'alice@example.com', password: PASSWORD, roles: ['editor', 'editor', 'viewer'], tenant: 'acme', displayName: 'Alice' }, 1_000);
    assert.deepEqual(added, {
      username: 'alice@example.com', roles: ['editor', 'viewer'], tenant: 'acme', displayName: 'Alice', createdAt: 1_000, disabledAt: null,
      passwordChangedAt: 1_000, failedLogins: 0, lockedUntil: null,
    });
    await users.add({ username: 'bob', password: PASSWORD, roles: [] });
    const got = await users.get('alice@example.com');
    assert.deepEqual(got, added);
    assert.ok(!('passwordHash' in got!));
    const all = await users.list();
    assert.deepEqual(all.map((u) => u.username), ['alice@example.com', 'bob']);
    assert.ok(all.every((u) => !('passwordHash' in u)));
    assert.equal(await users.get('carol'), undefined);
    const raw = await store.users.get('bob');
    assert.match(raw!.passwordHash, HASH_FORMAT);
    assert.equal(raw!.tenant, null);
    assert.equal(raw!.displayName, null);
  });

  test('a weak password, an invalid username or a taken username is refused with a UserError', async () => {
    const { users } = directory();
    await assert.rejects(users.add({ username: 'alice', password: 'short', roles: [] }), (err: unknown) => {
      assert.ok(err instanceof UserError);
      assert.equal(err.code, 'weak_password');
      assert.match(err.message, /too short/);
      return true;
    });
    for (const username of ['', ' alice', '.alice', '-alice', 'al ice', 'al/ice', 'alice\n', 'älice', 'a'.repeat(129)]) {
      await assert.rejects(users.add({ username, password: PASSWORD, roles: [] }), { name: 'UserError', code: 'invalid_username' }, JSON.stringify(username));
    }
    await users.add({ username: 'a'.repeat(128), password: PASSWORD, roles: [] });
    await users.add({ username: 'alice', password: PASSWORD, roles: [] });
    await assert.rejects(users.add({ username: 'alice', password: `${PASSWORD}!`, roles: [] }), { code: 'exists', message: /alice exists already/ });
    assert.equal((await users.list()).length, 2);
  });

  test('changes to a user who does not exist: not_found', async () => {
    const { users } = directory();
    await assert.rejects(users.disable('nobody'), { code: 'not_found', message: 'no user named nobody' });
    await assert.rejects(users.enable('nobody'), { code: 'not_found' });
    await assert.rejects(users.resetPassword('nobody', PASSWORD), { code: 'not_found' });
    await assert.rejects(users.setRoles('nobody', ['editor']), { code: 'not_found' });
    await assert.rejects(users.resetPassword('nobody', 'short'), { code: 'weak_password' });
  });

  test('authenticate: the right password signs in; a wrong one or an unknown user is invalid', async () => {
    const { users } = directory();
    await users.add({ username: 'alice', password: PASSWORD, roles: ['editor'], tenant: 'acme' });
    const ok = await users.authenticate('alice', PASSWORD);
    assert.equal(ok.ok, true);
    assert.ok(ok.ok);
    assert.equal(ok.user.username, 'alice');
    assert.deepEqual(ok.user.roles, ['editor']);
    assert.ok(!('passwordHash' in ok.user));
    assert.deepEqual(await users.authenticate('alice', 'wrong password!'), { ok: false, reason: 'wrong_password' });
    assert.deepEqual(await users.authenticate('bob', PASSWORD), { ok: false, reason: 'unknown_user' });
    assert.deepEqual(await users.authenticate('not a username', PASSWORD), { ok: false, reason: 'unknown_user' });
    assert.deepEqual(await users.authenticate('Alice', PASSWORD), { ok: false, reason: 'unknown_user' }, 'usernames are case-sensitive');
  });

  test('no lockout: many wrong passwords do not keep the owner out, and nothing is counted in the store', async () => {
    const { users, store } = directory();
    await users.add({ username: 'alice', password: PASSWORD, roles: [] });
    for (let i = 0; i < 8; i++) assert.deepEqual(await users.authenticate('alice', `wrong password ${i}`), { ok: false, reason: 'wrong_password' });
    assert.equal((await users.authenticate('alice', PASSWORD)).ok, true, 'the right password still signs in');
    assert.deepEqual([(await store.users.get('alice'))!.failedLogins, (await store.users.get('alice'))!.lockedUntil], [0, null]);
  });

  test('a lock written by an earlier version is ignored, and cleared at the next sign-in', async () => {
    const { users, store } = directory();
    await users.add({ username: 'alice', password: PASSWORD, roles: [] });
    await store.users.update('alice', { failedLogins: 5, lockedUntil: Date.now() + 3_600_000 });
    assert.equal((await users.authenticate('alice', PASSWORD)).ok, true);
    assert.deepEqual([(await store.users.get('alice'))!.failedLogins, (await store.users.get('alice'))!.lockedUntil], [0, null]);
  });

  test('disabled is only told to someone with the right password; enable lets the user in again', async () => {
    const { users } = directory();
    await users.add({ username: 'alice', password: PASSWORD, roles: [] });
    const disabled = await users.disable('alice', 5_000);
    assert.equal(disabled.disabledAt, 5_000);
    assert.equal((await users.disable('alice', 6_000)).disabledAt, 5_000, 'disabling again keeps the first time');
    assert.deepEqual(await users.authenticate('alice', 'wrong password!'), { ok: false, reason: 'wrong_password' });
    assert.deepEqual(await users.authenticate('alice', PASSWORD), { ok: false, reason: 'disabled' });
    const enabled = await users.enable('alice');
    assert.equal(enabled.disabledAt, null);
    assert.equal((await users.authenticate('alice', PASSWORD)).ok, true);
  });

  test('resetPassword: the new password works, the old does not', async () => {
    const { users } = directory();
    await users.add({ username: 'alice', password: PASSWORD, roles: [] }, 0);
    await assert.rejects(users.resetPassword('alice', 'too short'), { code: 'weak_password' });
    const reset = await users.resetPassword('alice', 'a brand new passphrase', 200);
    assert.deepEqual([reset.passwordChangedAt, reset.createdAt], [200, 0]);
    assert.deepEqual(await users.authenticate('alice', PASSWORD), { ok: false, reason: 'wrong_password' });
    assert.equal((await users.authenticate('alice', 'a brand new passphrase')).ok, true);
  });

  test('setRoles replaces the roles', async () => {
    const { users } = directory();
    await users.add({ username: 'alice', password: PASSWORD, roles: ['viewer'] });
    assert.deepEqual((await users.setRoles('alice', ['editor', 'admin', 'editor'])).roles, ['editor', 'admin']);
    assert.deepEqual((await users.get('alice'))!.roles, ['editor', 'admin']);
    assert.deepEqual((await users.setRoles('alice', [])).roles, []);
  });

  test('a hash with older parameters is upgraded at the next sign-in', async () => {
    const { users, store } = directory();
    await users.add({ username: 'alice', password: PASSWORD, roles: [] });
    // What a future version with a cheaper default (or an older one) would have stored: 2^14.
    const { scryptSync, randomBytes } = await import('node:crypto');
    const salt = randomBytes(16);
    const old = `scrypt$16384$8$1$${salt.toString('base64url')}$${scryptSync(PASSWORD, salt, 32, { N: 16384, r: 8, p: 1 }).toString('base64url')}`;
    await store.users.update('alice', { passwordHash: old });
    assert.equal((await users.authenticate('alice', PASSWORD)).ok, true);
    const upgraded = (await store.users.get('alice'))!.passwordHash;
    assert.match(upgraded, HASH_FORMAT);
    assert.equal((await users.authenticate('alice', PASSWORD)).ok, true);
  });
});

test('timing: an unknown user costs a scrypt verification, like a wrong password for a known user', async () => {
  const { users } = directory();
  await users.add({ username: 'alice', password: PASSWORD, roles: [] });
  const time = async (username: string): Promise<number> => {
    const start = process.hrtime.bigint();
    const result = await users.authenticate(username, 'wrong password!!');
    assert.equal(result.ok, false);
    return Number(process.hrtime.bigint() - start) / 1e6;
  };
  await time('alice'); // warm-up
  await time('nobody');
  let known = 0;
  let unknown = 0;
  for (let i = 0; i < 4; i++) {
    known += await time('alice');
    unknown += await time(`nobody${i}`);
  }
  assert.ok(unknown >= known / 2, `unknown user ${(unknown / 4).toFixed(1)} ms, wrong password ${(known / 4).toFixed(1)} ms`);
  assert.ok(unknown / 4 >= 10, `an unknown user must run scrypt (${(unknown / 4).toFixed(1)} ms)`);
});
