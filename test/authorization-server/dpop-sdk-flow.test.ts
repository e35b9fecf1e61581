import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { decodeJwt } from 'jose';
import { FormBrowser, startOAuthGateway, type OAuthSetup } from '../helpers/oauth.js';
import { MemoryOAuthClient } from '../helpers/sdk-oauth-client.js';
import { DpopKey, dpopFetch } from '../helpers/dpop.js';

/**
 * An MCP client doing DPoP end to end: the SDK's own OAuth client (discovery, registration, PKCE, code
 * exchange) and Streamable HTTP transport, with a `fetch` that adds a proof to every request (the SDK has no
 * DPoP of its own), against a gateway that requires DPoP and nonces.
 */

let setup: OAuthSetup | undefined;
after(async () => {
  await setup?.close();
});

test('the SDK client with DPoP proofs signs in (code + PKCE) and calls a tool, against dpop: required with nonces', async () => {
  setup = await startOAuthGateway({ dpop: { mode: 'required', nonce: true } });
  const key = await DpopKey.create();
  const log: { url: string; scheme: string; status: number }[] = [];
  const fetchWithProofs = dpopFetch(key, log);
  const provider = new MemoryOAuthClient();

  const first = new StreamableHTTPClientTransport(new URL(setup.notes), { authProvider: provider, fetch: fetchWithProofs });
  await assert.rejects(new Client({ name: 'dpop-sdk', version: '1.0.0' }).connect(first), UnauthorizedError);
  const browser = new FormBrowser(setup.issuer);
  const callback = await browser.authorize(provider.authorizationUrl!.href, provider.redirect, { username: 'alice' });
  await first.finishAuth(callback.searchParams.get('code')!);

  const tokens = provider.saved!;
  assert.equal(tokens.token_type, 'DPoP');
  assert.deepEqual(decodeJwt(tokens.access_token).cnf, { jkt: key.thumbprint });

  const client = new Client({ name: 'dpop-sdk', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(setup.notes), { authProvider: provider, fetch: fetchWithProofs }));
  const added = await client.callTool({ name: 'add_note', arguments: { title: 'bound', body: 'by a key' } });
  assert.notEqual(added.isError, true, JSON.stringify(added));
  await client.close();

  // The token endpoint and the MCP endpoint each asked for a nonce once, and every MCP request went as DPoP.
  const mcp = log.filter((e) => e.url === '/mcp/notes' && e.scheme === 'DPoP');
  assert.ok(mcp.length >= 3, JSON.stringify(log));
  assert.equal(mcp.filter((e) => e.status === 401).length, 1, `one nonce challenge at the gateway: ${JSON.stringify(log)}`);
  assert.equal(log.filter((e) => e.url === '/oauth/token' && e.status === 400).length, 1, `one nonce challenge at the token endpoint: ${JSON.stringify(log)}`);

  // The same token without the key: refused.
  const stolen = await fetch(setup.notes, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  assert.equal(stolen.status, 401);
});
