import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { decodeJwt } from 'jose';
import { FormBrowser, addUsers, auditRecords, eventually, startOAuthGatewayForAttacks, type OAuthSetup } from '../helpers/oauth.js';
import { MemoryOAuthClient } from '../helpers/sdk-oauth-client.js';

/**
 * An authorization request without `scope` (mcp-remote and others ignore the resource's scopes_supported):
 * the grant is the resource's scopes ∩ the user's roles, and `invalid_scope` when that is empty — it was an
 * empty grant ending in access_denied. Driven by the MCP SDK client, whose authorization URL loses its
 * `scope` on the way to the browser, as such a client would send it.
 */

let setup: OAuthSetup;

before(async () => {
  setup = await startOAuthGatewayForAttacks();
  await addUsers(setup.dbPath, [['dave', []]]);
});
after(async () => {
  await setup?.close();
});

/** The SDK flow up to the redirect back, with `scope` taken out of the authorization URL (or kept, when given). */
async function sdkSignIn(username: string, scope?: string) {
  const provider = new MemoryOAuthClient();
  const transport = new StreamableHTTPClientTransport(new URL(setup.notes), { authProvider: provider });
  await assert.rejects(new Client({ name: 'no-scope', version: '1.0.0' }).connect(transport), UnauthorizedError);
  const url = new URL(provider.authorizationUrl!);
  assert.ok(url.searchParams.get('scope'), 'the SDK asked for the PRM scopes; this client drops them');
  if (scope === undefined) url.searchParams.delete('scope');
  else url.searchParams.set('scope', scope);
  const callback = await new FormBrowser(setup.issuer).authorize(url.href, provider.redirect, { username });
  return { provider, transport, callback };
}

test('no scope in the request: the token gets the resource\'s scopes ∩ the user\'s roles, and calls tools', async () => {
  for (const [username, expected] of [['alice', ['notes:read', 'notes:write']], ['bob', ['notes:read']]] as const) {
    const { provider, transport, callback } = await sdkSignIn(username);
    const code = callback.searchParams.get('code');
    assert.ok(code, `${username}: ${callback.href}`);
    await transport.finishAuth(code);
    const claims = decodeJwt(provider.saved!.access_token);
    assert.deepEqual(String(claims.scope).split(' ').sort(), expected, username);
    assert.equal(claims.aud, setup.notes);
    const client = new Client({ name: 'no-scope', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(setup.notes), { authProvider: provider }));
    const listed = await client.callTool({ name: 'list_notes', arguments: {} });
    assert.notEqual(listed.isError, true, JSON.stringify(listed));
    await client.close();
  }
});

test('no scope, and the user\'s roles grant none of the resource\'s scopes: invalid_scope to the client, recorded', async () => {
  const { callback } = await sdkSignIn('dave');
  assert.equal(callback.searchParams.get('error'), 'invalid_scope', callback.href);
  assert.match(callback.searchParams.get('error_description') ?? '', /roles grant none of the resource's scopes \(notes:read notes:write\)/);
  assert.equal(callback.searchParams.get('code'), null);
  assert.ok(!callback.href.includes('dave'), 'the redirect does not name the user');
  const record = await eventually('the refusal record', async () => (await auditRecords(setup.dbPath))
    .find((r) => r.method === 'oauth.consent_denied' && r.subject === 'dave'));
  assert.match(String(record.reason), /^invalid_scope/);
  assert.equal(record.decision, 'deny');
  // Control: the same flow for a user with a role on notes ends with a code.
  assert.ok((await sdkSignIn('bob')).callback.searchParams.get('code'));
});

test('an explicit scope is not widened: notes:read asked, notes:read granted, even for a writer', async () => {
  const { provider, transport, callback } = await sdkSignIn('alice', 'notes:read');
  await transport.finishAuth(callback.searchParams.get('code')!);
  assert.equal(decodeJwt(provider.saved!.access_token).scope, 'notes:read');
});
