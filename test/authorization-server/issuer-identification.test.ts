import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { addUsers, startOAuthGatewayForAttacks, type OAuthSetup } from '../helpers/oauth.js';
import { signIn } from '../helpers/oauth-flow.js';

/**
 * MCP 2026-07-28 (SEP-2468): authorization responses carry `iss` (RFC 9207), so a client talking to several
 * authorization servers can tell which one answered (mix-up attacks), and the metadata says so. Both the
 * code and the error response carry it, and it is exactly the issuer of the metadata.
 */

let setup: OAuthSetup;

before(async () => {
  setup = await startOAuthGatewayForAttacks();
  await addUsers(setup.dbPath, [['erin', ['writer']]]);
});
after(async () => {
  await setup?.close();
});

test('the metadata says authorization responses carry iss, and that Client ID Metadata Documents are accepted', async () => {
  const metadata = await (await fetch(`${setup.issuer}/.well-known/oauth-authorization-server`)).json() as Record<string, unknown>;
  assert.equal(metadata.authorization_response_iss_parameter_supported, true);
  assert.equal(metadata.client_id_metadata_document_supported, true);
  assert.equal(metadata.issuer, setup.issuer);
});

test('a code and a refusal both come back with iss equal to the issuer', async () => {
  const granted = await signIn(setup.issuer, { username: 'erin', resource: setup.notes });
  assert.ok(granted.code);
  assert.equal(granted.callback.searchParams.get('iss'), setup.issuer);
  const refused = await signIn(setup.issuer, { username: 'erin', resource: setup.notes, decision: 'deny' });
  assert.equal(refused.callback.searchParams.get('error'), 'access_denied');
  assert.equal(refused.callback.searchParams.get('iss'), setup.issuer);
});
