import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AdminError, UsersAdmin } from '../../src/admin/index.js';
import { ACTOR, failingRecorder, refused, withAdmin } from '../helpers/admin.js';
import { leftOf, listed, seedGrants } from '../helpers/admin-seed.js';

const PASSWORD = 'correct horse battery';

describe('admin users', () => {
  test('add refuses an invalid username, an unknown role, a weak password; a second add of a name is a conflict', () => withAdmin(async ({ users }) => {
    await assert.rejects(users.add({ username: 'al ice', password: PASSWORD, roles: [] }), refused('invalid_input', /invalid username 'al ice'/));
    await assert.rejects(users.add({ username: 'alice', password: PASSWORD, roles: ['root'] }), refused('invalid_input', /unknown role 'root': authorization.roles does not define it \(defined: viewer, editor\)/));
    await assert.rejects(users.add({ username: 'alice', password: 'hunter2', roles: [] }), refused('invalid_input', /too short \(7 characters\)/));
    assert.deepEqual(await users.list(), []);
    await users.add({ username: 'alice', password: PASSWORD, roles: ['viewer'] });
    await assert.rejects(users.add({ username: 'alice', password: PASSWORD, roles: [] }), refused('conflict', /a user named alice exists already/));
    await assert.rejects(users.setRoles('alice', ['root']), refused('invalid_input', /unknown role 'root'/));
    await assert.rejects(users.resetPassword('alice', 'short'), refused('invalid_input', /too short/));
  }));

  test('a user who does not exist: not_found naming them, for every operation', () => withAdmin(async ({ users }) => {
    const isNotFound = (err: unknown) => err instanceof AdminError && err.code === 'not_found' && err.message === 'no user named nobody' && err.target?.id === 'nobody';
    for (const run of [() => users.get('nobody'), () => users.show('nobody'), () => users.disable('nobody'), () => users.enable('nobody'),
      () => users.resetPassword('nobody', PASSWORD), () => users.setRoles('nobody', ['viewer'])]) {
      await assert.rejects(run(), isNotFound);
    }
  }));

  test('every change is an admin record about the user, naming the actor; never the password', () => withAdmin(async ({ users, records }) => {
    await users.add({ username: 'alice', password: PASSWORD, roles: ['viewer'], tenant: 'acme', displayName: 'Alice' });
    await users.add({ username: 'bob', password: PASSWORD, roles: [], passwordGenerated: true });
    await users.setRoles('alice', ['editor']);
    await users.disable('alice');
    await users.enable('alice');
    await users.resetPassword('alice', 'a brand new passphrase');
    const all = await records();
    assert.deepEqual(all.map((r) => [r.method, r.target, r.targetKind, r.subject]), [
      ['users.add', 'alice', 'user', ACTOR.subject], ['users.add', 'bob', 'user', ACTOR.subject], ['users.set-roles', 'alice', 'user', ACTOR.subject],
      ['users.disable', 'alice', 'user', ACTOR.subject], ['users.enable', 'alice', 'user', ACTOR.subject], ['users.reset-password', 'alice', 'user', ACTOR.subject],
    ]);
    assert.deepEqual(all.map((r) => r.reason), [
      'roles viewer; tenant acme; name Alice; password set', 'roles none; password generated', 'roles editor (were viewer); 0 grant(s) revoked',
      'disabled; revoked 0 grants', 'enabled; lockout lifted', 'password set; revoked 0 grants',
    ]);
    assert.ok(!JSON.stringify(all).includes(PASSWORD) && !JSON.stringify(all).includes('a brand new passphrase'));
  }));

  test('disabling a user revokes every grant, refresh token and session they hold, and lists the user and the grants as revoked', () => withAdmin(async ({ users, store, records }) => {
    await users.add({ username: 'alice', password: PASSWORD, roles: ['viewer'] });
    await seedGrants(store, [['alice', 'cli-a', 'g-a1'], ['alice', 'cli-b', 'g-a2'], ['bob', 'cli-a', 'g-b1']]);
    const { user, revokedGrants } = await users.disable('alice');
    assert.notEqual(user.disabledAt, null);
    assert.equal(revokedGrants, 2);
    assert.deepEqual(await leftOf(store, ['g-a1', 'g-a2', 'g-b1']), { grants: ['g-b1'], refreshTokens: ['rt-g-b1'] }, "only bob's grant is left");
    assert.equal(await listed(store, 'user', 'alice'), true);
    assert.equal(await listed(store, 'grant', 'g-a1'), true);
    assert.equal(await listed(store, 'grant', 'g-a2'), true);
    assert.equal(await listed(store, 'user', 'bob'), false);
    assert.deepEqual((await store.oauth.list({ model: 'Session', accountId: 'alice' }, Date.now())).length, 0, 'signed out at the authorization server');
    assert.equal((await store.oauth.list({ model: 'Session', accountId: 'bob' }, Date.now())).length, 1);
    assert.equal((await records()).at(-1)!.reason, 'disabled; revoked 2 grants');
    assert.equal((await users.show('alice')).grants.length, 0);
  }));

  test('reset-password and set-roles revoke what the user holds too', () => withAdmin(async ({ users, store }) => {
    await users.add({ username: 'alice', password: PASSWORD, roles: ['viewer'] });
    await seedGrants(store, [['alice', 'cli-a', 'g-1']]);
    assert.equal((await users.show('alice')).grants[0]!.id, 'g-1');
    assert.equal((await users.resetPassword('alice', 'a brand new passphrase')).revokedGrants, 1);
    await seedGrants(store, [['alice', 'cli-a', 'g-2']]);
    const set = await users.setRoles('alice', ['editor', 'editor']);
    assert.deepEqual([set.revokedGrants, set.user.roles, set.previousRoles], [1, ['editor'], ['viewer']]);
    assert.deepEqual(await leftOf(store, ['g-1', 'g-2']), { grants: [], refreshTokens: [] });
  }));

  test('a user whose add cannot be recorded is left disabled; a disable that cannot be recorded stands', () => withAdmin(async ({ ctx, store }) => {
    const failing = new UsersAdmin({ ...ctx, recorder: failingRecorder });
    await assert.rejects(failing.add({ username: 'alice', password: PASSWORD, roles: [] }),
      refused('audit_failed', /^the user was added disabled because its audit record could not be written: disk full$/));
    assert.notEqual((await store.users.get('alice'))!.disabledAt, null);
    const users = new UsersAdmin(ctx);
    await users.enable('alice');
    await seedGrants(store, [['alice', 'cli-a', 'g-1']]);
    await assert.rejects(failing.disable('alice'), refused('audit_failed', /^the user was disabled, but its audit record could not be written/));
    assert.notEqual((await store.users.get('alice'))!.disabledAt, null);
    assert.equal(await listed(store, 'user', 'alice'), true);
  }));
});
