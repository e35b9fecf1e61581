import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ownerView, sessionOwner } from '../../../src/gateway/upstreams/session-bindings.js';
import type { Principal } from '../../../src/shared/principal.js';

const alice = (extra: Partial<Principal> = {}): Principal => ({ subject: 'alice', credential: { kind: 'api_key', id: 'k1' }, scopes: [], roles: [], ...extra });

test('one owner whichever credential the user presents; another tenant, client or issuer is another owner', () => {
  assert.equal(sessionOwner(alice()), sessionOwner(alice({ credential: { kind: 'api_key', id: 'k2' } })), 'another key of the same user');
  assert.notEqual(sessionOwner(alice()), sessionOwner(alice({ tenant: 'acme' })));
  assert.notEqual(sessionOwner(alice()), sessionOwner(alice({ clientId: 'c1' })));
  // A company IdP's alice is not the local alice: same subject string, another authority.
  assert.notEqual(sessionOwner(alice()), sessionOwner(alice({ issuer: 'https://idp.example.com' })));
  assert.notEqual(sessionOwner(alice({ issuer: 'https://a.example.com' })), sessionOwner(alice({ issuer: 'https://b.example.com' })));
  // Separators inside names cannot make two owners equal.
  assert.notEqual(sessionOwner(alice({ tenant: 'a","b' })), sessionOwner(alice({ tenant: 'a', clientId: 'b' })));
});

test('ownerView reads what sessionOwner wrote, for display', () => {
  assert.deepEqual(ownerView(sessionOwner(alice({ tenant: 'acme', clientId: 'c1', issuer: 'https://idp.example.com' }))), { subject: 'alice', tenant: 'acme', clientId: 'c1' });
  assert.deepEqual(ownerView('not json'), { subject: 'not json', tenant: null, clientId: null });
});
