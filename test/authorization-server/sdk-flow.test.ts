import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { FormBrowser, startOAuthGateway, type OAuthSetup } from '../helpers/oauth.js';
import { MemoryOAuthClient } from '../helpers/sdk-oauth-client.js';

let setup: OAuthSetup;

before(async () => {
  setup = await startOAuthGateway();
});
after(async () => {
  await setup?.close();
});

test('the SDK client goes from a 401 to a tool call: PRM and AS discovery, registration, PKCE, sign-in and consent pages, tokens', async () => {
  const provider = new MemoryOAuthClient();
  const first = new StreamableHTTPClientTransport(new URL(setup.notes), { authProvider: provider });
  const client = new Client({ name: 'sdk-oauth-test', version: '1.0.0' });
  await assert.rejects(client.connect(first), UnauthorizedError);
  assert.ok(provider.client?.client_id, 'the client registered dynamically');
  const authorizationUrl = provider.authorizationUrl!;
  assert.equal(authorizationUrl.origin + authorizationUrl.pathname, `${setup.issuer}/oauth/authorize`);
  assert.equal(authorizationUrl.searchParams.get('code_challenge_method'), 'S256');
  assert.equal(authorizationUrl.searchParams.get('resource'), setup.notes);

  const browser = new FormBrowser(setup.issuer);
  const callback = await browser.authorize(authorizationUrl.href, provider.redirect, { username: 'alice' });
  const code = callback.searchParams.get('code');
  assert.ok(code, `the redirect carries a code: ${callback.href}`);
  assert.equal(callback.searchParams.get('iss'), setup.issuer, 'RFC 9207 iss in the response');
  await first.finishAuth(code);

  const tokens = provider.saved!;
  assert.ok(tokens.refresh_token, 'a refresh token without asking for offline_access');
  assert.equal(decodeProtectedHeader(tokens.access_token).typ, 'at+jwt');
  assert.equal(decodeProtectedHeader(tokens.access_token).alg, 'ES256');
  const claims = decodeJwt(tokens.access_token);
  assert.equal(claims.aud, setup.notes, 'audience is exactly the notes resource');
  assert.equal(claims.sub, 'alice');
  assert.deepEqual(String(claims.scope).split(' ').sort(), ['notes:read', 'notes:write']);

  const second = new Client({ name: 'sdk-oauth-test', version: '1.0.0' });
  await second.connect(new StreamableHTTPClientTransport(new URL(setup.notes), { authProvider: provider }));
  const tools = await second.listTools();
  assert.ok(tools.tools.some((t) => t.name === 'add_note'));
  const added = await second.callTool({ name: 'add_note', arguments: { title: 'from oauth', body: 'hello' } });
  assert.notEqual(added.isError, true, JSON.stringify(added));
  await second.close();
});
