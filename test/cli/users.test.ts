import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { MAIN, ROOT, cliEnv, warden, type Run } from '../helpers/cli.js';
import { cliConfigs, oauthRecord, withStore } from '../helpers/cli-config.js';
import { SqliteStore } from '../../src/store/index.js';
import { UserDirectory } from '../../src/authorization-server/users.js';

const PASSWORD = 'correct horse battery staple';

const { config } = cliConfigs('users', { auth: 'auth: { oauth: {} }', roles: { viewer: ['notes:read'], editor: ['notes:read', 'notes:write'] } });

/** `warden users ...` with `input` on stdin (the shared helper gives the CLI no stdin, which is not a terminal). */
function users(file: string, args: string[], input?: string): Promise<Run> {
  const argv = ['users', ...args, '--config', file];
  if (input === undefined) return warden(argv);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...argv], { cwd: ROOT, env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

interface UserJson {
  username: string;
  displayName: string | null;
  roles: string[];
  tenant: string | null;
  status: 'active' | 'disabled' | 'locked';
  lockedUntil: string | null;
  failedLogins: number;
  createdAt: string;
  passwordChangedAt: string;
  disabledAt: string | null;
  revokedGrants?: number;
  password?: string;
}

async function addJson(file: string, username: string, args: string[] = [], password = PASSWORD): Promise<UserJson> {
  const run = await users(file, ['add', username, '--password-stdin', '--json', ...args], `${password}\n`);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as UserJson;
}

/** Signs in as the authorization server would, against the store the CLI wrote. */
function signIn(db: string, username: string, password: string) {
  return withStore(db, (store) => new UserDirectory(store.users).authenticate(username, password));
}

/** A grant (and a session) of the user, as oidc-provider would have stored them. */
async function seedGrant(db: string, username: string, id: string): Promise<void> {
  const expiresAt = Date.now() + 3_600_000;
  await withStore(db, async (store) => {
    await store.oauth.upsert(oauthRecord('Grant', id, { accountId: username, clientId: 'client-1' }, { expiresAt }));
    await store.oauth.upsert(oauthRecord('RefreshToken', `rt-${id}`, { accountId: username, clientId: 'client-1', grantId: id }, { grantId: id, expiresAt }));
    await store.oauth.upsert(oauthRecord('Session', `s-${id}`, { accountId: username }, { uid: `u-${id}`, expiresAt }));
  });
}

function storeBytes(db: string): Buffer {
  return Buffer.concat(['', '-wal', '-shm'].map((s) => `${db}${s}`).filter(existsSync).map((f) => readFileSync(f)));
}

describe('warden users', { concurrency: true }, () => {
  test('add --password-stdin: the user can sign in with that password (one trailing newline dropped); no password in the output', async () => {
    const { file, db } = config();
    const run = await users(file, ['add', 'alice', '--role', 'editor', '--role', 'viewer', '--tenant', 'acme', '--name', 'Alice Liddell', '--password-stdin'], `${PASSWORD}\n`);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    assert.match(run.stdout, /^added user alice$/m);
    assert.match(run.stdout, /roles:\s+editor, viewer/);
    assert.match(run.stdout, /tenant:\s+acme/);
    assert.match(run.stdout, /name:\s+Alice Liddell/);
    assert.match(run.stdout, /status:\s+active/);
    assert.ok(!run.stdout.includes(PASSWORD));
    const ok = await signIn(db, 'alice', PASSWORD);
    assert.ok(ok.ok);
    assert.deepEqual([ok.user.roles, ok.user.tenant, ok.user.displayName], [['editor', 'viewer'], 'acme', 'Alice Liddell']);
    assert.deepEqual(await signIn(db, 'alice', `${PASSWORD}\n`), { ok: false, reason: 'wrong_password' });

    // Only one newline is dropped: a password may end in whitespace.
    const crlf = await users(file, ['add', 'bob', '--password-stdin'], `${PASSWORD} \r\n`);
    assert.equal(crlf.code, 0, crlf.stderr);
    assert.equal((await signIn(db, 'bob', `${PASSWORD} `)).ok, true);
  });

  test('add --json: the user without password or hash', async () => {
    const { file } = config();
    const out = await addJson(file, 'alice@example.com', ['--role', 'viewer']);
    assert.deepEqual(Object.keys(out).sort(), ['createdAt', 'disabledAt', 'displayName', 'failedLogins', 'lockedUntil', 'passwordChangedAt', 'roles', 'status', 'tenant', 'username']);
    assert.deepEqual([out.username, out.roles, out.tenant, out.displayName, out.status, out.disabledAt], ['alice@example.com', ['viewer'], null, null, 'active', null]);
    assert.equal(new Date(out.createdAt).toISOString(), out.createdAt);
  });

  test('list and list --json: never a password or a hash', async () => {
    const { file } = config();
    await addJson(file, 'bob', ['--role', 'viewer']);
    await addJson(file, 'alice', ['--role', 'editor', '--tenant', 'acme', '--name', 'Alice']);
    const [table, json] = await Promise.all([users(file, ['list']), users(file, ['list', '--json'])]);
    for (const run of [table, json]) {
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stderr, '', 'list does not warn');
      assert.ok(!run.stdout.includes(PASSWORD));
      assert.doesNotMatch(run.stdout, /scrypt|hash/i);
    }
    assert.match(table.stdout, /^USERNAME\s+NAME\s+ROLES\s+TENANT\s+STATUS\s+CREATED$/m);
    assert.match(table.stdout, /^alice\s+Alice\s+editor\s+acme\s+active\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
    assert.match(table.stdout, /^bob\s+-\s+viewer\s+-\s+active\s+/m);
    const list = JSON.parse(json.stdout) as UserJson[];
    assert.deepEqual(list.map((u) => [u.username, u.roles, u.tenant, u.status]), [['alice', ['editor'], 'acme', 'active'], ['bob', ['viewer'], null, 'active']]);
    assert.ok(list.every((u) => !('password' in u) && !('passwordHash' in u)));

    const empty = config();
    const none = await users(empty.file, ['list', '--json']);
    assert.deepEqual(JSON.parse(none.stdout), []);
  });

  test('list shows a locked-out user as locked until when', async () => {
    const { file, db } = config();
    await addJson(file, 'alice');
    const store = new SqliteStore(db);
    try {
      // Sign-in no longer locks accounts (sign-in-throttle.ts); a lock written by an earlier version still shows.
      await store.users.update('alice', { failedLogins: 5, lockedUntil: Date.now() + 3_600_000 });
    } finally {
      await store.close();
    }
    const [table, json] = await Promise.all([users(file, ['list']), users(file, ['list', '--json'])]);
    assert.match(table.stdout, /^alice\s+-\s+-\s+-\s+locked until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+/m);
    const [u] = JSON.parse(json.stdout) as UserJson[];
    assert.equal(u!.status, 'locked');
    assert.ok(Date.parse(u!.lockedUntil!) > Date.now() + 3_000_000);
    // enable lifts the lockout
    assert.equal((await users(file, ['enable', 'alice'])).code, 0);
    assert.equal((await signIn(db, 'alice', PASSWORD)).ok, true);
  });

  test('a user who exists already: exit 1, the first user unchanged', async () => {
    const { file, db } = config();
    await addJson(file, 'alice', ['--role', 'viewer']);
    const run = await users(file, ['add', 'alice', '--role', 'editor', '--password-stdin'], 'another long password\n');
    assert.equal(run.code, 1);
    assert.equal(run.stderr, 'warden: a user named alice exists already\n');
    assert.equal((await signIn(db, 'alice', PASSWORD)).ok, true);
    assert.equal((await signIn(db, 'alice', 'another long password')).ok, false);
  });

  test('an unknown role, an invalid username or a weak password: exit 2 and nothing is created', async () => {
    const { file, db } = config();
    const role = await users(file, ['add', 'alice', '--role', 'editor', '--role', 'root', '--password-stdin'], `${PASSWORD}\n`);
    assert.equal(role.code, 2);
    assert.match(role.stderr, /^warden: unknown role 'root': authorization.roles does not define it \(defined: viewer, editor\)$/m);
    assert.equal(role.stdout, '');
    const name = await users(file, ['add', 'al ice', '--password-stdin'], `${PASSWORD}\n`);
    assert.equal(name.code, 2);
    assert.match(name.stderr, /invalid username 'al ice'/);
    const weak = await users(file, ['add', 'alice', '--password-stdin'], 'hunter2\n');
    assert.equal(weak.code, 2);
    assert.match(weak.stderr, /too short \(7 characters\): use at least 12/);
    const empty = await users(file, ['add', 'alice', '--password-stdin'], '');
    assert.equal(empty.code, 2);
    assert.equal(existsSync(db), false, 'a usage mistake does not even create the store file');
    const roles = await users(file, ['set-roles', 'alice']);
    assert.equal(roles.code, 2, 'set-roles needs --role');
  });

  test('without --password-stdin and without a terminal: a strong password is generated and printed once', async () => {
    const { file, db } = config();
    const run = await users(file, ['add', 'alice', '--role', 'viewer']);
    assert.equal(run.code, 0, run.stderr);
    const password = run.stdout.split('\n')[0]!;
    assert.match(password, /^[A-Za-z0-9_-]{24}$/);
    assert.equal(run.stdout.split(password).length - 1, 1, 'printed exactly once');
    assert.match(run.stdout, /only time the generated password is shown/);
    assert.ok(!run.stderr.includes(password));
    assert.equal((await signIn(db, 'alice', password)).ok, true);

    const json = await users(file, ['add', 'bob', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const out = JSON.parse(json.stdout) as UserJson;
    assert.match(out.password!, /^[A-Za-z0-9_-]{24}$/);
    assert.notEqual(out.password, password);
    assert.equal(json.stdout.split(out.password!).length - 1, 1);
    assert.match(json.stderr, /only time the generated password is shown/);
    assert.equal((await signIn(db, 'bob', out.password!)).ok, true);
  });

  test('disable: the user cannot sign in, every grant and token is revoked; enable lets them back', async () => {
    const { file, db } = config();
    await addJson(file, 'alice', ['--role', 'viewer']);
    await addJson(file, 'bob', ['--role', 'viewer']);
    await seedGrant(db, 'alice', 'g1');
    await seedGrant(db, 'alice', 'g2');
    await seedGrant(db, 'bob', 'g3');
    const before = Date.now() - 1;

    const run = await users(file, ['disable', 'alice', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as UserJson;
    assert.deepEqual([out.username, out.status, out.revokedGrants], ['alice', 'disabled', 2]);
    assert.deepEqual(await signIn(db, 'alice', PASSWORD), { ok: false, reason: 'disabled' });

    const store = new SqliteStore(db);
    try {
      const now = Date.now();
      assert.deepEqual((await store.oauth.list({ model: 'Grant' }, now)).map((g) => g.id), ['g3'], "only bob's grant is left");
      assert.deepEqual((await store.oauth.list({ model: 'RefreshToken' }, now)).map((g) => g.id), ['rt-g3']);
      assert.deepEqual((await store.oauth.list({ model: 'Session' }, now)).map((g) => g.id), ['s-g3']);
      assert.equal(await store.revocations.anyRevoked([{ kind: 'user', value: 'alice' }], before), true, "alice's access tokens are listed as revoked");
      assert.equal(await store.revocations.anyRevoked([{ kind: 'grant', value: 'g1' }], before), true);
      assert.equal(await store.revocations.anyRevoked([{ kind: 'user', value: 'bob' }], before), false);
    } finally {
      await store.close();
    }

    const human = await users(file, ['disable', 'alice']);
    assert.equal(human.code, 0, 'disabling twice is fine');
    assert.equal(human.stdout, "disabled user alice; revoked 0 grants with their tokens, and ended the user's sessions\n");

    const list = JSON.parse((await users(file, ['list', '--json'])).stdout) as UserJson[];
    assert.deepEqual(list.map((u) => [u.username, u.status]), [['alice', 'disabled'], ['bob', 'active']]);

    const enable = await users(file, ['enable', 'alice', '--json']);
    assert.equal(enable.code, 0, enable.stderr);
    assert.equal((JSON.parse(enable.stdout) as UserJson).status, 'active');
    assert.equal((await signIn(db, 'alice', PASSWORD)).ok, true);
  });

  test('reset-password: the new password works, the old does not, and the user\'s grants are revoked', async () => {
    const { file, db } = config();
    await addJson(file, 'alice');
    await seedGrant(db, 'alice', 'g1');
    const run = await users(file, ['reset-password', 'alice', '--password-stdin', '--json'], 'a brand new passphrase\n');
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as UserJson;
    assert.equal(out.revokedGrants, 1);
    assert.ok(!('password' in out), 'a password that was given is never echoed');
    assert.ok(Date.parse(out.passwordChangedAt) > Date.parse(out.createdAt));
    assert.deepEqual(await signIn(db, 'alice', PASSWORD), { ok: false, reason: 'wrong_password' });
    assert.equal((await signIn(db, 'alice', 'a brand new passphrase')).ok, true);

    const weak = await users(file, ['reset-password', 'alice', '--password-stdin'], 'short\n');
    assert.equal(weak.code, 2);
    assert.equal((await signIn(db, 'alice', 'a brand new passphrase')).ok, true);

    const generated = await users(file, ['reset-password', 'alice']);
    assert.equal(generated.code, 0, generated.stderr);
    const password = generated.stdout.split('\n')[0]!;
    assert.match(password, /^[A-Za-z0-9_-]{24}$/);
    assert.match(generated.stdout, /only time the generated password is shown/);
    assert.match(generated.stdout, /reset the password of alice; revoked 0 grants/);
    assert.equal((await signIn(db, 'alice', password)).ok, true);
  });

  test('set-roles replaces the roles; unknown roles exit 2', async () => {
    const { file } = config();
    await addJson(file, 'alice', ['--role', 'viewer']);
    const run = await users(file, ['set-roles', 'alice', '--role', 'editor', '--role', 'viewer', '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual((JSON.parse(run.stdout) as UserJson).roles, ['editor', 'viewer']);
    const bad = await users(file, ['set-roles', 'alice', '--role', 'admin']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown role 'admin'.*defined: viewer, editor/);
  });

  test('show: the user and the grants they hold, never a password or a hash', async () => {
    const { file, db } = config();
    await addJson(file, 'alice', ['--role', 'viewer']);
    await addJson(file, 'bob', ['--role', 'viewer']);
    await seedGrant(db, 'alice', 'g1');
    await seedGrant(db, 'bob', 'g3');
    const run = await users(file, ['show', 'alice', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const shown = JSON.parse(run.stdout) as UserJson & { grants: { id: string; user: string }[] };
    assert.equal(shown.username, 'alice');
    assert.deepEqual(shown.grants.map((g) => [g.id, g.user]), [['g1', 'alice']]);
    assert.ok(!run.stdout.includes("scrypt") && !run.stdout.includes(PASSWORD), "no hash and no password");
    const human = await users(file, ['show', 'bob']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /username: +bob/);
    assert.match(human.stdout, /grants:\n +grant g3\n/);
  });

  test('a user who does not exist: exit 1 for show, disable, enable, reset-password and set-roles', async () => {
    const { file } = config();
    for (const args of [['show', 'nobody'], ['disable', 'nobody'], ['enable', 'nobody'], ['reset-password', 'nobody'], ['set-roles', 'nobody', '--role', 'viewer']]) {
      const run = await users(file, args);
      assert.equal(run.code, 1, `${args[0]}: ${run.stderr}`);
      assert.equal(run.stderr, 'warden: no user named nobody\n');
      assert.equal(run.stdout, '', 'reset-password generates no password for a user who does not exist');
    }
  });

  test('a config without OAuth: a warning, not a failure', async () => {
    const { file, db } = config('auth: { apiKeys: {} }');
    const run = await users(file, ['add', 'alice', '--password-stdin'], `${PASSWORD}\n`);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /^warden: warning: .* does not turn on OAuth, so nobody can sign in as these users yet; set auth: \{ oauth: \{\} \}/);
    assert.equal((await signIn(db, 'alice', PASSWORD)).ok, true);
  });

  test('every change is an admin record in the audit chain; neither the chain nor the store file holds a password', async () => {
    const { file, db } = config();
    await addJson(file, 'alice', ['--role', 'viewer', '--tenant', 'acme']);
    const generated = JSON.parse((await users(file, ['add', 'bob', '--json'])).stdout) as UserJson;
    assert.equal((await users(file, ['set-roles', 'alice', '--role', 'editor'])).code, 0);
    assert.equal((await users(file, ['disable', 'alice'])).code, 0);
    assert.equal((await users(file, ['enable', 'alice'])).code, 0);
    assert.equal((await users(file, ['reset-password', 'alice', '--password-stdin'], 'a brand new passphrase\n')).code, 0);
    const reset = (await users(file, ['reset-password', 'bob'])).stdout.split('\n')[0]!;

    const run = await warden(['audit', 'query', '--event', 'admin', '--json', '--config', file]);
    assert.equal(run.code, 0, run.stderr);
    const records = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { method: string; target: string; targetKind: string; reason: string; event: string });
    assert.deepEqual(records.map((r) => [r.method, r.target]), [
      ['users.add', 'alice'], ['users.add', 'bob'], ['users.set-roles', 'alice'], ['users.disable', 'alice'], ['users.enable', 'alice'],
      ['users.reset-password', 'alice'], ['users.reset-password', 'bob'],
    ]);
    assert.ok(records.every((r) => r.event === 'admin' && r.targetKind === 'user'));
    assert.match(records[0]!.reason, /roles viewer; tenant acme; password set/);
    assert.match(records[1]!.reason, /password generated/);
    assert.match(records[2]!.reason, /roles editor \(were viewer\)/);
    assert.match(records[3]!.reason, /disabled; revoked 0 grants/);
    assert.equal((await warden(['audit', 'verify', '--config', file])).code, 0);

    const secrets = [PASSWORD, generated.password!, 'a brand new passphrase', reset];
    const bytes = storeBytes(db);
    assert.ok(bytes.length > 0);
    for (const secret of secrets) {
      assert.ok(!run.stdout.includes(secret), 'not in the audit chain');
      assert.equal(bytes.indexOf(Buffer.from(secret, 'utf8')), -1, 'not in the store file');
    }
  });
});
