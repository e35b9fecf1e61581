import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AdminError, ClientsAdmin, checkNewServiceClient } from '../../src/admin/index.js';
import { ACTOR, failingRecorder, refused, withAdmin } from '../helpers/admin.js';
import { leftOf, listed, seedGrants } from '../helpers/admin-seed.js';
import { oauthRecord } from '../helpers/cli-config.js';

describe('admin clients', () => {
  test('a service client needs a name without control characters and at least one defined scope', () => withAdmin(async ({ clients, ctx }) => {
    await assert.rejects(clients.addService({ name: ' ', scopes: ['notes:read'] }), refused('invalid_input', /--name must be non-empty text/));
    await assert.rejects(clients.addService({ name: 'ci\nfake line', scopes: ['notes:read'] }), refused('invalid_input', /control characters/));
    await assert.rejects(clients.addService({ name: 'ci', scopes: [] }), refused('invalid_input', /at least one --scope.*defined: notes:read, notes:write/));
    await assert.rejects(clients.addService({ name: 'ci', scopes: ['notes:admin'] }), refused('invalid_input', /unknown scope 'notes:admin'/));
    assert.deepEqual((await clients.list({ includeIdle: true })).clients, []);
    assert.deepEqual(checkNewServiceClient(ctx.config, { name: '  ci ', scopes: ['notes:read', 'notes:read'] }), { name: 'ci', scopes: ['notes:read'] });
  }));

  test('add stores only the secret\'s hash and records the client; revoke removes it and records what went', () => withAdmin(async ({ clients, store, records }) => {
    const { client, secret } = await clients.addService({ name: 'ci', scopes: ['notes:write'] });
    assert.match(client.client_id, /^svc_[A-Za-z0-9_-]{16}$/);
    assert.deepEqual([client.kind, client.grant_types, client.scope], ['service', ['client_credentials'], 'notes:write']);
    const stored = await store.oauth.find('Client', client.client_id, Date.now());
    assert.ok(stored && !stored.payload.includes(secret));
    assert.deepEqual((await clients.show(client.client_id)).client.client_name, 'ci');

    await store.oauth.upsert(oauthRecord('Client', 'dyn-1', { client_id: 'dyn-1', client_name: 'Claude', redirect_uris: ['http://127.0.0.1/cb'] }));
    await seedGrants(store, [['alice', 'dyn-1', 'g-1'], ['bob', 'dyn-1', 'g-2']]);
    const out = await clients.revoke('dyn-1');
    assert.deepEqual([out.removed, out.kind, out.client_name, out.grants.sort()], [true, 'dynamic', 'Claude', ['g-1', 'g-2']]);
    assert.deepEqual(await leftOf(store, ['g-1', 'g-2']), { grants: [], refreshTokens: [] });
    assert.equal(await listed(store, 'client', 'dyn-1'), true);

    const all = await records();
    assert.deepEqual(all.map((r) => [r.method, r.target, r.targetKind, r.subject]), [
      ['clients.add', client.client_id, 'client', ACTOR.subject], ['clients.revoke', 'dyn-1', 'client', ACTOR.subject],
    ]);
    assert.equal(all[0]!.reason, 'service client "ci": scopes notes:write');
    assert.match(all[1]!.reason, /^dynamic client "Claude": registration removed, 2 grants revoked \(g-[12], g-[12]\)$/);
    assert.ok(!JSON.stringify(all).includes(secret));
  }));

  test('an unknown client: show is not_found; revoke lists it as revoked anyway and records that', () => withAdmin(async ({ clients, store, records }) => {
    await assert.rejects(clients.show('nope'), (err: unknown) => err instanceof AdminError && err.code === 'not_found' && err.target?.kind === 'client');
    const out = await clients.revoke('gone');
    assert.deepEqual([out.removed, out.kind, out.grants], [false, null, []]);
    assert.equal(await listed(store, 'client', 'gone'), true);
    assert.equal((await records())[0]!.reason, 'no such client registered; listed as revoked anyway, 0 grants revoked');
  }));

  test('a client whose add cannot be recorded is removed again', () => withAdmin(async ({ ctx }) => {
    const failing = new ClientsAdmin({ ...ctx, recorder: failingRecorder });
    await assert.rejects(failing.addService({ name: 'ci', scopes: ['notes:read'] }), refused('audit_failed', /^the client was not added because its audit record could not be written: disk full$/));
    assert.deepEqual((await failing.list({ includeIdle: true })).clients, []);
  }));

  test('list leaves out registrations without a live grant unless asked, and says how many', () => withAdmin(async ({ clients, store }) => {
    await store.oauth.upsert(oauthRecord('Client', 'dyn-idle', { client_id: 'dyn-idle' }));
    await store.oauth.upsert(oauthRecord('Client', 'dyn-used', { client_id: 'dyn-used' }));
    await seedGrants(store, [['alice', 'dyn-used', 'g-1']]);
    const inUse = await clients.list();
    assert.deepEqual([inUse.clients.map((c) => [c.client_id, c.liveGrants]), inUse.idle], [[['dyn-used', 1]], 1]);
    assert.equal((await clients.list({ includeIdle: true })).clients.length, 2);
  }));
});
