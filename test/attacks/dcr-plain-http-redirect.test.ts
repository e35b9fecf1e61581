import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { FormBrowser, REDIRECT, register, startOAuthGatewayForAttacks, type OAuthSetup } from '../helpers/oauth.js';
import { codeRequest, pkcePair } from '../helpers/oauth-flow.js';

/**
 * Dynamic registration of a plain-http redirect URI on another host: the authorization code would cross the
 * network unencrypted (OAuth 2.1 §2.3.1). Refused with RFC 7591 `invalid_redirect_uri`; loopback http stays
 * allowed for native apps (RFC 8252 §7.3), and https anywhere.
 */

let setup: OAuthSetup;

before(async () => {
  setup = await startOAuthGatewayForAttacks();
});
after(async () => {
  await setup?.close();
});

test('DCR with an http redirect URI on a non-loopback host is invalid_redirect_uri; loopback http and https register', async () => {
  for (const uri of [
    'http://evil.example/cb',
    'http://10.0.0.5:8080/callback',
    'HTTP://EVIL.EXAMPLE/cb',
    'http://127.0.0.1@evil.example/cb', // userinfo: the host is evil.example
    'http://127.0.0.1.evil.example/cb',
    'http://localhost.evil.example/cb',
  ]) {
    const answer = await register(setup.issuer, { redirect_uris: [uri] });
    assert.equal(answer.status, 400, `${uri}: ${answer.text}`);
    assert.equal(answer.json.error, 'invalid_redirect_uri', uri);
    assert.match(answer.json.error_description, /uses http on a host that is not loopback.*https/, uri);
    // Hidden among good ones, it is refused all the same.
    const mixed = await register(setup.issuer, { redirect_uris: [REDIRECT, uri] });
    assert.equal(mixed.status, 400, `${uri} among loopback URIs`);
  }
  for (const uri of ['http://127.0.0.1:9999/callback', 'http://[::1]:8976/cb', 'http://localhost:3000/cb', 'http://127.0.0.1/cb', 'https://app.example/cb']) {
    const answer = await register(setup.issuer, { redirect_uris: [uri] });
    assert.equal(answer.status, 201, `${uri}: ${answer.text}`);
  }
  // The refusals did not disturb the server: a registered client starts a sign-in.
  const ok = await register(setup.issuer, { redirect_uris: [REDIRECT] });
  const res = await new FormBrowser(setup.issuer).request(codeRequest(setup.issuer, ok.json.client_id, pkcePair(), { resource: setup.notes }));
  assert.equal(res.status, 303);
  assert.match(res.headers.get('location') ?? '', /\/oauth\/interaction\//);
});
