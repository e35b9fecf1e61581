import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { decodeJwt } from 'jose';
import { generateClientSecret, hashClientSecret } from '../../src/authorization-server/client-secrets.js';
import {
  FormBrowser, PASSWORD, REDIRECT, registerClient, startOAuthGateway, startOAuthGatewayForAttacks, withStore, type OAuthSetup,
} from '../helpers/oauth.js';
import { connectClient, postRaw } from '../helpers/client.js';
import {
  DEVICE_CODE_GRANT, basicAuth, codeRequest, exchangeCode, obtainTokens, parseForm, pkcePair, postForm, probeMcp, refresh, signIn, tokenRequest,
} from '../helpers/oauth-flow.js';

/**
 * The token endpoint's grants of the embedded AS, against a real gateway: refresh rotation and reuse
 * detection, the device flow, client credentials, Client ID Metadata Documents and resource indicators.
 */

let setup: OAuthSetup;

before(async () => {
  setup = await startOAuthGatewayForAttacks();
});
after(async () => {
  await setup?.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Calls a notes tool with the token; the tool's answer (rejects when the gateway refuses). */
async function callNotes(url: string, token: string, name: string, args: Record<string, unknown>) {
  const { client } = await connectClient(url, bearer(token));
  try {
    return await client.callTool({ name, arguments: args });
  } finally {
    await client.close();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('refresh token reuse after the reuse interval: invalid_grant, and the whole grant dies (newest refresh token and access token too)', async () => {
  const strict = await startOAuthGateway({ refreshReuseInterval: 0 });
  try {
    const tokens = await obtainTokens(strict.issuer, { username: 'alice', resource: strict.notes, scope: 'notes:read notes:write' });
    const { clientId } = tokens;
    const rotated = await refresh(strict.issuer, clientId, tokens.refresh_token);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.json));
    assert.ok(rotated.json.refresh_token);
    assert.notEqual(rotated.json.refresh_token, tokens.refresh_token, 'the refresh token rotates');
    assert.notEqual(rotated.json.access_token, tokens.access_token);
    assert.equal(decodeJwt(rotated.json.access_token).aud, strict.notes, 'the refreshed token keeps the granted resource');
    const listed = await callNotes(strict.notes, rotated.json.access_token, 'list_notes', {});
    assert.notEqual(listed.isError, true, JSON.stringify(listed));

    // Then the next rotation, so that "the newest" is two steps from the stolen one.
    const newest = await refresh(strict.issuer, clientId, rotated.json.refresh_token);
    assert.equal(newest.status, 200);
    assert.equal((await probeMcp(strict.notes, newest.json.access_token)).status, 200);

    await sleep(20);
    const reuse = await refresh(strict.issuer, clientId, tokens.refresh_token);
    assert.equal(reuse.status, 400, 'the first, consumed refresh token comes back: a thief or a bug');
    assert.equal(reuse.json.error, 'invalid_grant');
    assert.equal(reuse.json.access_token, undefined);

    const afterReuse = await refresh(strict.issuer, clientId, newest.json.refresh_token);
    assert.equal(afterReuse.status, 400, 'the newest refresh token died with the grant');
    assert.equal(afterReuse.json.error, 'invalid_grant');
    for (const [label, token] of [['newest', newest.json.access_token], ['rotated', rotated.json.access_token], ['first', tokens.access_token]] as const) {
      const probe = await probeMcp(strict.notes, token);
      assert.equal(probe.status, 401, `${label} access token is refused at once`);
      assert.match(probe.message, /revoked/, label);
      assert.match(probe.challenge, /error="invalid_token"/, label);
    }
    // Another grant of the same user and client is untouched.
    const other = await obtainTokens(strict.issuer, { username: 'alice', scope: 'notes:read', resource: strict.notes, client: { client_id: clientId } });
    assert.equal((await probeMcp(strict.notes, other.access_token)).status, 200, 'only the grant of the reused token was revoked');

    const records = (await withStore(strict.dbPath, (st) => st.audit.query({ event: 'oauth' }))).map((r) => JSON.parse(r.body) as { method: string; subject: string; decision: string });
    assert.ok(records.some((r) => r.method === 'oauth.refresh_reuse' && r.subject === 'alice' && r.decision === 'deny'), 'the reuse detection is an audit record naming the user');
  } finally {
    await strict.close();
  }
});

test('concurrent refresh within the reuse interval: both racing requests succeed, the grant survives, and both new refresh tokens work', async () => {
  const tokens = await obtainTokens(setup.issuer, { username: 'alice', scope: 'notes:read', resource: setup.notes });
  const { clientId } = tokens;
  const [a, b] = await Promise.all([refresh(setup.issuer, clientId, tokens.refresh_token), refresh(setup.issuer, clientId, tokens.refresh_token)]);
  assert.equal(a.status, 200, JSON.stringify(a.json));
  assert.equal(b.status, 200, JSON.stringify(b.json));
  assert.notEqual(a.json.refresh_token, b.json.refresh_token);
  // Sequentially too, a moment later: still inside the 5 s interval.
  const late = await refresh(setup.issuer, clientId, tokens.refresh_token);
  assert.equal(late.status, 200, 'a late retry within the interval is answered');

  const fromA = await refresh(setup.issuer, clientId, a.json.refresh_token);
  assert.equal(fromA.status, 200, JSON.stringify(fromA.json));
  const fromB = await refresh(setup.issuer, clientId, b.json.refresh_token);
  assert.equal(fromB.status, 200, JSON.stringify(fromB.json));
  for (const token of [a.json.access_token, b.json.access_token, fromA.json.access_token, fromB.json.access_token]) {
    assert.equal((await probeMcp(setup.notes, token)).status, 200, 'nobody killed the grant');
  }
});

/** From a page of the device flow to the page that has no further form of ours to fill in (success or error). */
async function driveDevice(browser: FormBrowser, first: { url: string; form?: Record<string, string> }, username: string): Promise<{ status: number; html: string; visited: string[] }> {
  let next = first;
  const visited: string[] = [];
  for (let hop = 0; hop < 25; hop++) {
    const res = await browser.request(next.url, next.form ? { form: next.form } : {});
    visited.push(`${next.form ? 'POST' : 'GET'} ${new URL(next.url, setup.issuer).pathname} ${res.status}`);
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      next = { url: new URL(location, new URL(next.url, setup.issuer)).href };
      continue;
    }
    const html = await res.text();
    const { action, fields } = parseForm(html);
    if (action?.endsWith('/login')) next = { url: action, form: { csrf: fields.csrf!, username, password: PASSWORD } };
    else if (action?.endsWith('/consent')) next = { url: action, form: { csrf: fields.csrf!, decision: 'allow' } };
    else return { status: res.status, html, visited };
  }
  throw new Error('too many hops');
}

test('device flow (RFC 8628): device authorization, pending polls, user code entry, confirmation, sign-in and consent, then tokens that call a tool', async () => {
  const device = await registerClient(setup.issuer, {
    client_name: 'CLI on a headless box', grant_types: [DEVICE_CODE_GRANT, 'refresh_token'], response_types: [], redirect_uris: [],
  });
  const started = await postForm(setup.issuer, 'device_authorization', { client_id: device.client_id, scope: 'notes:read notes:write', resource: setup.notes });
  assert.equal(started.status, 200, JSON.stringify(started.json));
  const { device_code: deviceCode, user_code: userCode, verification_uri: verificationUri } = started.json as Record<string, string>;
  assert.ok(deviceCode && userCode);
  assert.equal(verificationUri, `${setup.issuer}/oauth/device`);
  assert.ok(Number(started.json.expires_in) > 0);

  const poll = () => tokenRequest(setup.issuer, { grant_type: DEVICE_CODE_GRANT, device_code: deviceCode!, client_id: device.client_id });
  const pending = await poll();
  assert.equal(pending.status, 400);
  assert.equal(pending.json.error, 'authorization_pending');
  // Polling again at once: RFC 8628 allows slow_down; oidc-provider 9 answers authorization_pending (it does not enforce the interval).
  const tooFast = await poll();
  assert.ok(['authorization_pending', 'slow_down'].includes(tooFast.json.error), JSON.stringify(tooFast.json));
  // Someone else's device code is not this client's.
  const other = await registerClient(setup.issuer, { grant_types: [DEVICE_CODE_GRANT], response_types: [], redirect_uris: [] });
  const stolen = await tokenRequest(setup.issuer, { grant_type: DEVICE_CODE_GRANT, device_code: deviceCode!, client_id: other.client_id });
  assert.equal(stolen.json.error, 'invalid_grant');

  const browser = new FormBrowser(setup.issuer);
  const entry = await browser.request(verificationUri!);
  assert.equal(entry.status, 200);
  assert.equal(entry.headers.get('x-frame-options'), 'DENY');
  const entryForm = parseForm(await entry.text());
  assert.ok(entryForm.fields.xsrf, 'oidc-provider form with its xsrf field');
  assert.equal(new URL(entryForm.action!, setup.issuer).pathname, '/oauth/device');

  // A wrong code: the entry page again, with an error and a fresh form.
  const wrong = await browser.request(entryForm.action!, { form: { xsrf: entryForm.fields.xsrf!, user_code: 'BCDFGHJK' === userCode ? 'BCDFGHJL' : 'BCDFGHJK' } });
  const wrongHtml = await wrong.text();
  assert.match(wrongHtml, /That code was not found/);
  assert.doesNotMatch(wrongHtml, /Confirm the device/);
  const retryForm = parseForm(wrongHtml);
  // The xsrf of the form is checked: without it the code is not even looked up.
  const noXsrf = await browser.request(entryForm.action!, { form: { user_code: userCode! } });
  assert.equal(noXsrf.status, 400);
  assert.doesNotMatch(await noXsrf.text(), /Confirm the device/);

  const fresh = parseForm(await (await browser.request(verificationUri!)).text());
  const confirm = await browser.request(fresh.action!, { form: { xsrf: fresh.fields.xsrf ?? retryForm.fields.xsrf!, user_code: userCode!.toLowerCase() } });
  assert.equal(confirm.status, 200);
  const confirmHtml = await confirm.text();
  assert.match(confirmHtml, /Confirm the device/);
  assert.match(confirmHtml, /CLI on a headless box/);
  const confirmForm = parseForm(confirmHtml);
  assert.equal(confirmForm.fields.confirm, 'yes');

  const done = await driveDevice(browser, { url: confirmForm.action!, form: confirmForm.fields }, 'alice');
  assert.equal(done.status, 200, `${done.visited.join(' → ')}: ${done.html.slice(0, 400)}`);
  assert.match(done.html, /Device connected/, done.visited.join(' → '));
  assert.ok(done.visited.some((v) => v.includes('/login')), `went through the sign-in page: ${done.visited.join(' → ')}`);
  assert.ok(done.visited.some((v) => v.includes('/consent')), `went through the consent page: ${done.visited.join(' → ')}`);

  const granted = await poll();
  assert.equal(granted.status, 200, JSON.stringify(granted.json));
  assert.ok(granted.json.refresh_token);
  const claims = decodeJwt(granted.json.access_token);
  assert.equal(claims.aud, setup.notes);
  assert.equal(claims.sub, 'alice');
  assert.equal(claims.client_id, device.client_id);
  const added = await callNotes(setup.notes, granted.json.access_token, 'add_note', { title: 'from the device flow', body: 'hi' });
  assert.notEqual(added.isError, true, JSON.stringify(added));
  // The device code is single-use: polling again replays it, which revokes what it gave.
  const replay = await poll();
  assert.equal(replay.json.error, 'invalid_grant');
  assert.equal((await probeMcp(setup.notes, granted.json.access_token)).status, 401, 'a replayed device code revokes its grant');
  // A used user code cannot be entered again.
  const again = parseForm(await (await browser.request(verificationUri!)).text());
  const reused = await browser.request(again.action!, { form: { xsrf: again.fields.xsrf!, user_code: userCode! } });
  assert.match(await reused.text(), /already been used|not found/);
});

test('client_credentials: a service client gets an audience-bound JWT for its own scope; write is 403, a wrong secret is invalid_client, a wider scope is refused', async () => {
  const secret = generateClientSecret();
  await withStore(setup.dbPath, (store) => store.oauth.upsert({
    model: 'Client', id: 'svc_test',
    payload: JSON.stringify({
      client_id: 'svc_test', client_secret: hashClientSecret(secret), client_name: 'CI bot', grant_types: ['client_credentials'], response_types: [],
      redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic', scope: 'notes:read',
    }),
    grantId: null, userCode: null, uid: null, expiresAt: null, consumedAt: null,
  }));
  const basic = basicAuth('svc_test', secret);
  const issued = await tokenRequest(setup.issuer, { grant_type: 'client_credentials', resource: setup.notes, scope: 'notes:read' }, basic);
  assert.equal(issued.status, 200, JSON.stringify(issued.json));
  assert.equal(issued.json.refresh_token, undefined, 'no refresh token for client credentials');
  const claims = decodeJwt(issued.json.access_token);
  assert.equal(claims.aud, setup.notes);
  assert.equal(claims.sub, 'svc_test');
  assert.equal(claims.client_id, 'svc_test');
  assert.equal(claims.scope, 'notes:read');

  const listed = await callNotes(setup.notes, issued.json.access_token, 'list_notes', {});
  assert.notEqual(listed.isError, true, JSON.stringify(listed));
  const { client, transport } = await connectClient(setup.notes, bearer(issued.json.access_token));
  try {
    const call = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'add_note', arguments: { title: 'bot', body: 'no' } } };
    const res = await postRaw(setup.notes, JSON.stringify(call), { ...bearer(issued.json.access_token), 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-06-18' });
    assert.equal(res.status, 403);
    assert.equal(res.json.error.data.error, 'insufficient_scope');
    assert.match(res.headers.get('www-authenticate') ?? '', /error="insufficient_scope", scope="notes:write"/);
  } finally {
    await client.close();
  }
  // Audience-bound: not accepted at the other upstream.
  assert.equal((await probeMcp(setup.webResource, issued.json.access_token)).status, 401);

  const wrongSecret = await tokenRequest(setup.issuer, { grant_type: 'client_credentials', resource: setup.notes, scope: 'notes:read' }, basicAuth('svc_test', generateClientSecret()));
  assert.equal(wrongSecret.status, 401);
  assert.equal(wrongSecret.json.error, 'invalid_client');
  // The stored digest is not a password either.
  const digestAsSecret = await tokenRequest(setup.issuer, { grant_type: 'client_credentials', resource: setup.notes, scope: 'notes:read' }, basicAuth('svc_test', hashClientSecret(secret)));
  assert.equal(digestAsSecret.json.error, 'invalid_client');
  const wider = await tokenRequest(setup.issuer, { grant_type: 'client_credentials', resource: setup.notes, scope: 'notes:read notes:write' }, basic);
  assert.equal(wider.status, 400, JSON.stringify(wider.json));
  assert.equal(wider.json.access_token, undefined);
  assert.match(wider.json.error, /^invalid_(scope|target)$/);
  const otherResource = await tokenRequest(setup.issuer, { grant_type: 'client_credentials', resource: 'https://evil.example/mcp', scope: 'notes:read' }, basic);
  assert.equal(otherResource.json.error, 'invalid_target');
  // A public DCR client cannot use the grant at all.
  const dcr = await registerClient(setup.issuer);
  const publicCc = await tokenRequest(setup.issuer, { grant_type: 'client_credentials', client_id: dcr.client_id, resource: setup.notes, scope: 'notes:read' });
  assert.equal(publicCc.status, 400);
  assert.equal(publicCc.json.access_token, undefined);
});

test('SSRF through Client ID Metadata Documents: https client_ids on loopback, localhost and private addresses are refused without a connection', async () => {
  const sockets: Socket[] = [];
  const listener: Server = createServer((socket) => {
    sockets.push(socket);
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const port = (listener.address() as { port: number }).port;
  try {
    const pkce = pkcePair();
    for (const clientId of [
      `https://127.0.0.1:${port}/client.json`,
      `https://localhost:${port}/client.json`,
      `https://127.1:${port}/client.json`,
      `https://[::ffff:127.0.0.1]:${port}/client.json`,
      'https://10.0.0.1/client.json',
      'https://169.254.169.254/latest/meta-data/client.json',
      'https://[::1]/client.json',
    ]) {
      const browser = new FormBrowser(setup.issuer);
      const res = await browser.request(codeRequest(setup.issuer, clientId, pkce, { redirect_uri: 'https://app.example/callback', resource: setup.notes }));
      const html = await res.text();
      assert.equal(res.status, 400, `${clientId}: ${html.slice(-300)}`);
      assert.equal(res.headers.get('location'), null, `${clientId}: no redirect`);
      assert.match(html, /client_id metadata document fetch failed|client is invalid/, clientId);
    }
    assert.equal(sockets.length, 0, 'nothing connected to the loopback listener');
  } finally {
    await new Promise((resolve) => listener.close(resolve));
  }
});

test('resource indicators: a foreign resource is invalid_target; without resource on a two-upstream gateway the token is usable nowhere', async () => {
  const { client_id } = await registerClient(setup.issuer);
  const browser = new FormBrowser(setup.issuer);
  const foreign = await browser.request(codeRequest(setup.issuer, client_id, pkcePair(), { resource: 'https://evil.example/mcp' }));
  assert.equal(foreign.status, 303);
  const location = new URL(foreign.headers.get('location')!);
  assert.equal(`${location.origin}${location.pathname}`, REDIRECT);
  assert.equal(location.searchParams.get('error'), 'invalid_target');
  assert.equal(location.searchParams.get('code'), null);
  // Two resources at once would make a token for both: refused as well, or cut to one audience.
  const both = await browser.request(`${codeRequest(setup.issuer, client_id, pkcePair(), { resource: setup.notes })}&resource=${encodeURIComponent(setup.webResource)}`);
  const bothLocation = both.headers.get('location') ?? '';
  if (!bothLocation.includes('/oauth/interaction/')) assert.match(bothLocation, /error=invalid_(target|request)/, bothLocation);

  // Without resource the AS may refuse outright (no code), or issue a token with no audience: then it must
  // be usable at no upstream.
  const resourceless = await signIn(setup.issuer, { username: 'alice', scope: 'notes:read' });
  if (!resourceless.code) {
    assert.match(resourceless.callback.searchParams.get('error') ?? '', /^(access_denied|invalid_target|invalid_scope|invalid_request)$/, resourceless.callback.href);
  } else {
    const exchanged = await exchangeCode(setup.issuer, resourceless);
    assert.equal(exchanged.status, 200, JSON.stringify(exchanged.json));
    for (const resource of [setup.notes, setup.webResource]) {
      const probe = await probeMcp(resource, exchanged.json.access_token);
      assert.equal(probe.status, 401, `${resource} refuses a token without an audience`);
    }
  }
  // A token for notes is refused at web (and the other way round): the audience is exact.
  const notesToken = await obtainTokens(setup.issuer, { username: 'alice', scope: 'notes:read', resource: setup.notes });
  const webProbe = await probeMcp(setup.webResource, notesToken.access_token);
  assert.equal(webProbe.status, 401);
  assert.match(webProbe.message, /another resource/);
});

test('scope smuggling without resource: a reader asking for notes:write with no resource gets no notes:write on any token or in introspection', async () => {
  const signed = await signIn(setup.issuer, { username: 'bob', scope: 'notes:read notes:write' });
  const consent = signed.browser.pages.find((p) => p.html.includes('Allow access?'));
  assert.ok(consent, 'bob saw a consent page');
  // (The page offers only "Back to the app"; the test clicks Allow anyway, as a crafted POST would.)
  if (!signed.code) {
    assert.ok(signed.callback.searchParams.get('error'), `no code and no token: ${signed.callback.href}`);
    return;
  }
  const exchanged = await exchangeCode(setup.issuer, signed);
  assert.equal(exchanged.status, 200, JSON.stringify(exchanged.json));
  const introspection = await postForm(setup.issuer, 'introspect', { token: exchanged.json.access_token, client_id: signed.clientId });
  const scopes = [String(exchanged.json.scope ?? ''), String(introspection.json.scope ?? '')];
  for (const scope of scopes) {
    assert.doesNotMatch(scope, /notes:write/, `bob's roles do not include notes:write, yet the token says "${scope}"`);
  }
});
