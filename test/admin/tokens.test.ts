import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TokensAdmin, checkTokenTarget, type TokenTarget } from '../../src/admin/index.js';
import { ACTOR, failingRecorder, refused, withAdmin } from '../helpers/admin.js';
import { leftOf, listed, seedGrants } from '../helpers/admin-seed.js';

describe('admin tokens', () => {
  test('a target must be a user, a client or a grant, and name one', () => withAdmin(async ({ tokens }) => {
    assert.throws(() => checkTokenTarget({ kind: 'grant', value: '' }), refused('invalid_input', /--grant needs a value/));
    await assert.rejects(tokens.revoke({ kind: 'session', value: 's' } as unknown as TokenTarget), refused('invalid_input', /name a user, a client or a grant/));
  }));

  test('revoking a user, a client or a grant revokes its grants and lists it; each is recorded with its target kind', () => withAdmin(async ({ tokens, store, records }) => {
    await seedGrants(store, [['alice', 'cli-a', 'g-a1'], ['bob', 'cli-a', 'g-b1'], ['carol', 'cli-b', 'g-c1'], ['dave', 'cli-c', 'g-d1']]);
    assert.deepEqual((await tokens.revoke({ kind: 'user', value: 'alice' })).grants, ['g-a1']);
    assert.deepEqual((await tokens.revoke({ kind: 'client', value: 'cli-b' })).grants, ['g-c1']);
    const grant = await tokens.revoke({ kind: 'grant', value: 'g-b1' });
    assert.deepEqual([grant.found, grant.user, grant.clientId, grant.grants], [true, 'bob', 'cli-a', ['g-b1']]);
    const unknown = await tokens.revoke({ kind: 'grant', value: 'g-none' });
    assert.deepEqual([unknown.found, unknown.grants], [false, []]);
    assert.deepEqual(await leftOf(store, ['g-a1', 'g-b1', 'g-c1', 'g-d1']), { grants: ['g-d1'], refreshTokens: ['rt-g-d1'] });
    for (const [kind, value] of [['user', 'alice'], ['client', 'cli-b'], ['grant', 'g-b1'], ['grant', 'g-none']] as const) {
      assert.equal(await listed(store, kind, value), true, `${kind} ${value}`);
    }
    assert.ok(Date.parse(grant.listedUntil) > Date.now() + 600_000, 'listed for at least the access-token lifetime');
    const all = await records();
    assert.deepEqual(all.map((r) => [r.method, r.target, r.targetKind, r.subject, r.reason]), [
      ['tokens.revoke', 'alice', 'user', ACTOR.subject, 'user alice: 1 grant revoked (g-a1)'],
      ['tokens.revoke', 'cli-b', 'client', ACTOR.subject, 'client cli-b: 1 grant revoked (g-c1)'],
      ['tokens.revoke', 'g-b1', 'grant', ACTOR.subject, 'grant g-b1: grant revoked (user bob, client cli-a)'],
      ['tokens.revoke', 'g-none', 'grant', ACTOR.subject, 'grant g-none: no such grant; listed as revoked anyway'],
    ]);
  }));

  test('a revocation whose record cannot be written stands, and the failure says so', () => withAdmin(async ({ ctx, store }) => {
    await seedGrants(store, [['alice', 'cli-a', 'g-1']]);
    await assert.rejects(new TokensAdmin({ ...ctx, recorder: failingRecorder }).revoke({ kind: 'user', value: 'alice' }),
      refused('audit_failed', /^the revocation stands, but its audit record could not be written: disk full$/));
    assert.deepEqual(await leftOf(store, ['g-1']), { grants: [], refreshTokens: [] });
    assert.equal(await listed(store, 'user', 'alice'), true);
  }));
});
