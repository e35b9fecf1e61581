import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AdminError, KeysAdmin } from '../../src/admin/index.js';
import { ACTOR, failingRecorder, refused, withAdmin } from '../helpers/admin.js';

describe('admin keys', () => {
  test('create refuses unknown scopes and roles, a key that grants nothing and a zero lifetime; nothing is stored', () => withAdmin(async ({ keys }) => {
    await assert.rejects(keys.create({ subject: 'ci', scopes: ['notes:admin'], roles: [] }), refused('invalid_input', /unknown scope 'notes:admin'.*defined: notes:read, notes:write/));
    await assert.rejects(keys.create({ subject: 'ci', scopes: [], roles: ['root'] }), refused('invalid_input', /unknown role 'root'.*defined: viewer, editor/));
    await assert.rejects(keys.create({ subject: 'ci', scopes: [], roles: [] }), refused('invalid_input', /at least one --scope or --role/));
    await assert.rejects(keys.create({ subject: 'ci', scopes: ['notes:read'], roles: [], expiresInMs: 0 }), refused('invalid_input', /longer than 0/));
    await assert.rejects(keys.create({ subject: '', scopes: ['notes:read'], roles: [] }), refused('invalid_input', /must not be empty/));
    assert.deepEqual(await keys.list({ includeInactive: true }), []);
  }));

  test('create, rotate, revoke and rotate-signing each write an admin record naming the actor, never the key', () => withAdmin(async ({ keys, records }) => {
    const { key, view } = await keys.create({ subject: 'ci', tenant: 'acme', scopes: ['notes:read'], roles: ['viewer'], expiresInMs: 86_400_000 });
    const rotated = await keys.rotate(view.id, 0);
    const revoked = await keys.revoke(rotated.key);
    assert.equal(revoked.status, 'revoked', 'a whole key names its id');
    const signing = await keys.rotateSigning('all');
    const all = await records();
    assert.deepEqual(all.map((r) => [r.method, r.target, r.targetKind]), [
      ['keys.create', view.id, 'api_key'], ['keys.rotate', view.id, 'api_key'], ['keys.revoke', rotated.view.id, 'api_key'],
      ...signing.map((s) => ['keys.rotate-signing', s.kid, 'signing_key']),
    ]);
    assert.match(all[0]!.reason, /^for ci \(tenant acme\): scopes notes:read, roles viewer, expires \d{4}-/);
    assert.match(all[1]!.reason, new RegExp(`^replaced by ${rotated.view.id} for ci \\(tenant acme\\)`));
    for (const r of all) {
      assert.deepEqual([r.event, r.subject, r.tenant, r.credential, r.requestId, r.decision], ['admin', ACTOR.subject, ACTOR.tenant, ACTOR.credential, ACTOR.requestId, 'allow']);
    }
    assert.equal(signing.length, 2);
    assert.ok(!JSON.stringify(all).includes(key) && !JSON.stringify(all).includes(rotated.key));
  }));

  test('a key whose audit record cannot be written is revoked again, and the failure says so', () => withAdmin(async ({ keys }) => {
    await assert.rejects(keys.create({ subject: 'ci', scopes: ['notes:read'], roles: [] }), refused('audit_failed', /^the key was not issued because its audit record could not be written: disk full$/));
    const [stored, ...rest] = await keys.list({ includeInactive: true });
    assert.equal(rest.length, 0);
    assert.equal(stored!.status, 'revoked');
  }, { recorder: failingRecorder }));

  test('a revocation whose record fails stands (undoing it would hand access back)', () => withAdmin(async ({ keys, store, ctx }) => {
    const { view } = await keys.create({ subject: 'ci', scopes: ['notes:read'], roles: [] });
    const failing = new KeysAdmin({ ...ctx, recorder: failingRecorder });
    await assert.rejects(failing.revoke(view.id), refused('audit_failed', /^the key was revoked, but its audit record could not be written: disk full$/));
    assert.notEqual((await store.apiKeys.get(view.id))!.revokedAt, null);
  }));

  test('rotating a key twice is a conflict, an unknown id is not_found, a mangled key is invalid_input without being echoed', () => withAdmin(async ({ keys }) => {
    const { key, view } = await keys.create({ subject: 'ci', scopes: ['notes:read'], roles: [] });
    await keys.rotate(view.id, 3_600_000);
    await assert.rejects(keys.rotate(view.id, 0), refused('conflict', /rotated already/));
    await assert.rejects(keys.rotate(view.id, -1), refused('invalid_input', /--grace/));
    await assert.rejects(keys.revoke('AAAAAAAAAAAA'), (err: unknown) => err instanceof AdminError && err.code === 'not_found' && err.target?.kind === 'api_key' && err.target.id === 'AAAAAAAAAAAA');
    await assert.rejects(keys.get('AAAAAAAAAAAA'), refused('not_found', /no API key with id AAAAAAAAAAAA/));
    const mangled = `${key.slice(0, 30)}${key[30] === 'x' ? 'y' : 'x'}${key.slice(31)}`;
    await assert.rejects(keys.revoke(mangled), (err: unknown) => err instanceof AdminError && err.code === 'invalid_input' && /copy\/paste/.test(err.message) && !err.message.includes(mangled));
  }));
});
