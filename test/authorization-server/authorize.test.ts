import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import {
  FormBrowser, PASSWORD, REDIRECT, register, registerClient, startOAuthGateway, startOAuthGatewayForAttacks, withStore, type OAuthSetup,
} from '../helpers/oauth.js';
import { codeRequest, exchangeCode, openInteraction, pkcePair, probeMcp, readInteraction, refresh, signIn } from '../helpers/oauth-flow.js';

/**
 * The authorization endpoint, registration and the sign-in and consent pages of the embedded AS, attacked
 * through a real gateway: every test names the attack it makes.
 */

let setup: OAuthSetup;

before(async () => {
  setup = await startOAuthGatewayForAttacks();
});
after(async () => {
  await setup?.close();
});

/** One request to the authorization endpoint, in a fresh browser: status, Location and the page. */
async function authorizeOnce(url: string): Promise<{ status: number; location: URL | undefined; html: string; headers: Headers }> {
  const browser = new FormBrowser(setup.issuer);
  const res = await browser.request(url);
  const location = res.headers.get('location');
  return { status: res.status, location: location ? new URL(location, setup.issuer) : undefined, html: await res.text(), headers: res.headers };
}

/** The request was refused at the authorization server itself: a 400 page, and no redirect anywhere. */
function assertErrorPage(answer: { status: number; location: URL | undefined; html: string }, label: string, message?: RegExp): void {
  assert.equal(answer.status, 400, `${label}: answered with an error page (${answer.location?.href ?? ''})`);
  assert.equal(answer.location, undefined, `${label}: no Location header at all`);
  assert.match(answer.html, /Sign-in could not continue/, label);
  if (message) assert.match(answer.html, message, label);
}

/** Refused with an error sent back to the client's registered redirect URI (never a code, never elsewhere). */
function assertErrorRedirect(answer: { status: number; location: URL | undefined }, label: string, error: string): URL {
  assert.equal(answer.status, 303, label);
  const location = answer.location!;
  assert.equal(`${location.origin}${location.pathname}`, REDIRECT, `${label}: only to the registered redirect URI`);
  assert.equal(location.searchParams.get('error'), error, label);
  assert.equal(location.searchParams.get('code'), null, `${label}: no code`);
  return location;
}

/** Follows redirects from `url` (GET) to the next page; the page with its headers. */
async function follow(browser: FormBrowser, first: Response, from: string): Promise<{ url: string; status: number; headers: Headers; html: string }> {
  let res = first;
  let url = from;
  for (let hop = 0; hop < 10; hop++) {
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || !location) return { url, status: res.status, headers: res.headers, html: await res.text() };
    url = new URL(location, new URL(url, setup.issuer)).href;
    res = await browser.request(url);
  }
  throw new Error('too many redirects');
}

test('RFC 8414 metadata: issuer, endpoints under /oauth/, S256 only, code only, device/refresh/client_credentials grants; PRM names the issuer', async () => {
  const res = await fetch(`${setup.issuer}/.well-known/oauth-authorization-server`);
  assert.equal(res.status, 200);
  const md = await res.json() as Record<string, any>;
  assert.equal(md.issuer, setup.issuer);
  for (const key of ['authorization_endpoint', 'token_endpoint', 'registration_endpoint', 'revocation_endpoint', 'introspection_endpoint', 'device_authorization_endpoint', 'jwks_uri']) {
    assert.ok(String(md[key]).startsWith(`${setup.issuer}/oauth/`), `${key} is under /oauth/: ${md[key]}`);
  }
  assert.equal(md.authorization_endpoint, `${setup.issuer}/oauth/authorize`);
  assert.equal(md.token_endpoint, `${setup.issuer}/oauth/token`);
  assert.deepEqual(md.code_challenge_methods_supported, ['S256'], 'plain PKCE is not offered');
  assert.deepEqual(md.response_types_supported, ['code'], 'no implicit or hybrid response types (OAuth 2.1)');
  for (const grant of ['authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:device_code']) {
    assert.ok(md.grant_types_supported.includes(grant), `grant_types_supported has ${grant}`);
  }
  assert.ok(!md.grant_types_supported.includes('implicit'));
  assert.ok(!md.grant_types_supported.includes('password'));
  assert.equal(md.authorization_response_iss_parameter_supported, true, 'RFC 9207 iss in authorization responses');

  const prm = await (await fetch(`${setup.issuer}/.well-known/oauth-protected-resource/mcp/notes`)).json() as Record<string, any>;
  assert.equal(prm.resource, setup.notes);
  assert.deepEqual(prm.authorization_servers, [setup.issuer]);
  assert.deepEqual([...prm.scopes_supported].sort(), ['notes:read', 'notes:write']);
});

test('PKCE missing: an authorization request without code_challenge gets an error, never a code', async () => {
  const { client_id } = await registerClient(setup.issuer);
  const pkce = pkcePair();
  const answer = await authorizeOnce(codeRequest(setup.issuer, client_id, pkce, { code_challenge: undefined, code_challenge_method: undefined, resource: setup.notes }));
  const location = assertErrorRedirect(answer, 'no code_challenge', 'invalid_request');
  assert.match(location.searchParams.get('error_description') ?? '', /PKCE/);
  assert.equal(location.searchParams.get('state'), 'st4te');
  // A method without a challenge is no better.
  const methodOnly = await authorizeOnce(codeRequest(setup.issuer, client_id, pkce, { code_challenge: undefined, resource: setup.notes }));
  assertErrorRedirect(methodOnly, 'code_challenge_method without code_challenge', 'invalid_request');
});

test('plain PKCE downgrade: code_challenge_method=plain is refused', async () => {
  const { client_id } = await registerClient(setup.issuer);
  const pkce = pkcePair();
  const answer = await authorizeOnce(codeRequest(setup.issuer, client_id, pkce, { code_challenge: pkce.verifier, code_challenge_method: 'plain', resource: setup.notes }));
  const location = assertErrorRedirect(answer, 'plain', 'invalid_request');
  assert.match(location.searchParams.get('error_description') ?? '', /code_challenge_method/);
  // A challenge without a method means plain (RFC 7636 §4.3): refused too, not silently taken as S256.
  const implicitPlain = await authorizeOnce(codeRequest(setup.issuer, client_id, pkce, { code_challenge: pkce.verifier, code_challenge_method: undefined, resource: setup.notes }));
  assertErrorRedirect(implicitPlain, 'no method (plain by default)', 'invalid_request');
});

test('stolen code without the verifier: a wrong or missing code_verifier is invalid_grant at the token endpoint', async () => {
  const signed = await signIn(setup.issuer, { username: 'alice', scope: 'notes:read', resource: setup.notes });
  assert.ok(signed.code);
  const wrong = await exchangeCode(setup.issuer, signed, { code_verifier: pkcePair().verifier });
  assert.equal(wrong.status, 400);
  assert.equal(wrong.json.error, 'invalid_grant');
  assert.equal(wrong.json.access_token, undefined);
  // The challenge itself as the verifier (what a plain-PKCE downgrade would send) fails as well.
  const challengeAsVerifier = await exchangeCode(setup.issuer, signed, { code_verifier: signed.pkce.challenge });
  assert.equal(challengeAsVerifier.json.error, 'invalid_grant');
  const none = await exchangeCode(setup.issuer, signed, { code_verifier: '' });
  assert.equal(none.status, 400);
  assert.equal(none.json.access_token, undefined);
  // oidc-provider checks PKCE before it consumes the code, so failed guesses do not burn it: the holder of
  // the verifier still gets its tokens (a 256-bit verifier cannot be guessed in the code's 60 s anyway).
  const right = await exchangeCode(setup.issuer, signed);
  assert.equal(right.status, 200, JSON.stringify(right.json));
  assert.ok(right.json.access_token);
});

test('authorization code replay: the second use is invalid_grant and revokes what the first use issued (OAuth 2.1)', async () => {
  const signed = await signIn(setup.issuer, { username: 'alice', scope: 'notes:read', resource: setup.notes });
  const first = await exchangeCode(setup.issuer, signed);
  assert.equal(first.status, 200);
  assert.equal((await probeMcp(setup.notes, first.json.access_token)).status, 200, 'the first access token works');

  const replay = await exchangeCode(setup.issuer, signed);
  assert.equal(replay.status, 400);
  assert.equal(replay.json.error, 'invalid_grant');
  assert.equal(replay.json.access_token, undefined);

  const refreshed = await refresh(setup.issuer, signed.clientId, first.json.refresh_token);
  assert.equal(refreshed.status, 400, 'the refresh token of the first exchange died with the grant');
  assert.equal(refreshed.json.error, 'invalid_grant');
  const probe = await probeMcp(setup.notes, first.json.access_token);
  assert.equal(probe.status, 401, 'the access token of the first exchange is refused (revocation list)');
  assert.match(probe.message, /revoked/);

  const records = (await withStore(setup.dbPath, (s) => s.audit.query({ event: 'oauth' }))).map((r) => JSON.parse(r.body) as { method: string; subject: string; clientId?: string });
  const ofClient = records.filter((r) => r.clientId === signed.clientId);
  assert.ok(ofClient.some((r) => r.method === 'oauth.code_replay' && r.subject === 'alice'), 'the replay is recorded against the user');
  assert.ok(ofClient.some((r) => r.method === 'oauth.revoke' && r.subject === 'alice'), 'so is the grant revocation it caused');
});

test('redirect URI mismatch: another host, a dot-segment path and another path get an error page, never a redirect', async () => {
  const { client_id } = await registerClient(setup.issuer);
  const pkce = pkcePair();
  for (const redirect of ['https://evil.example/cb', 'http://127.0.0.1:9999/callback/../evil', 'http://127.0.0.1:9999/evil', 'http://127.0.0.1:9999/callback/evil', 'http://127.0.0.1:9999/Callback']) {
    const answer = await authorizeOnce(codeRequest(setup.issuer, client_id, pkce, { redirect_uri: redirect, resource: setup.notes }));
    assertErrorPage(answer, redirect, /redirect_uri did not match/);
  }
  // Without redirect_uri oidc-provider uses the only registered one (or refuses); either way the browser
  // goes nowhere but the sign-in page or the registered URI.
  const missing = await authorizeOnce(codeRequest(setup.issuer, client_id, pkce, { redirect_uri: undefined, resource: setup.notes }));
  if (missing.location) {
    const local = missing.location.origin === setup.issuer && missing.location.pathname.startsWith('/oauth/interaction/');
    assert.ok(local || missing.location.href.startsWith(REDIRECT), missing.location.href);
  }
});

test('open redirect: extra query, fragment, userinfo trick, look-alike host and an unknown client_id never get a Location to a foreign host', async () => {
  const { client_id } = await registerClient(setup.issuer);
  const pkce = pkcePair();
  const tricks = [
    'http://127.0.0.1:9999/callback?next=https://evil.example/',
    'http://127.0.0.1:9999/callback#https://evil.example/',
    'http://127.0.0.1:9999@evil.example/callback',
    'http://127.0.0.1.evil.example/callback',
    'http://127.0.0.1:9999\\@evil.example/callback',
    'HTTP://127.0.0.1:9999/callback/%2e%2e/evil',
  ];
  for (const redirect of tricks) {
    const answer = await authorizeOnce(codeRequest(setup.issuer, client_id, pkce, { redirect_uri: redirect, resource: setup.notes }));
    assertErrorPage(answer, redirect);
  }
  // An unregistered client: nothing to check the redirect against, so nowhere to redirect.
  const unknown = await authorizeOnce(codeRequest(setup.issuer, 'no-such-client', pkce, { redirect_uri: 'https://evil.example/cb', resource: setup.notes }));
  assertErrorPage(unknown, 'unknown client_id', /client is invalid/);
  // An error in another parameter is not redirected to an unverified redirect_uri either.
  const badBoth = await authorizeOnce(codeRequest(setup.issuer, client_id, pkce, { redirect_uri: 'https://evil.example/cb', response_type: 'token', resource: setup.notes }));
  assertErrorPage(badBoth, 'unverified redirect_uri and a bad response_type');

  // Registration refuses the dangerous redirect URIs in the first place.
  for (const [label, uris, extra] of [
    ['fragment', ['http://127.0.0.1:9999/callback#frag'], {}],
    ['javascript: (web)', ['javascript:alert(document.cookie)//'], {}],
    ['javascript: (native)', ['javascript:alert(document.cookie)//'], { application_type: 'native' }],
    ['data:', ['data:text/html,<script>alert(1)</script>'], { application_type: 'native' }],
    ['file:', ['file:///etc/passwd'], { application_type: 'native' }],
    ['not a URL', ['not a url'], {}],
  ] as const) {
    const answer = await register(setup.issuer, { redirect_uris: uris, ...extra });
    assert.equal(answer.status, 400, `${label}: ${JSON.stringify(answer.json)}`);
    assert.match(answer.json.error, /^invalid_(redirect_uri|client_metadata)$/, label);
    assert.equal(answer.json.client_id, undefined, label);
  }
});

test('RFC 8252 loopback: a client registered with an explicit native application_type may use any loopback port', async () => {
  const { client_id } = await registerClient(setup.issuer, { application_type: 'native' });
  const port = 'http://127.0.0.1:5555/callback';
  const signed = await signIn(setup.issuer, { username: 'alice', scope: 'notes:read', resource: setup.notes, client: { client_id } });
  assert.ok(signed.code, 'the registered port itself works');
  const pkce = pkcePair();
  const browser = new FormBrowser(setup.issuer);
  const callback = await browser.authorize(codeRequest(setup.issuer, client_id, pkce, { redirect_uri: port, resource: setup.notes }), port, { username: 'alice' });
  assert.ok(callback.searchParams.get('code'), callback.href);
  const exchanged = await exchangeCode(setup.issuer, { clientId: client_id, code: callback.searchParams.get('code')!, pkce }, { redirect_uri: port });
  assert.equal(exchanged.status, 200, JSON.stringify(exchanged.json));
});

test('RFC 8252 loopback: a loopback-only DCR client (no application_type) is native and may use any port', async () => {
  const client = await registerClient(setup.issuer);
  assert.equal(client.application_type, 'native', 'the gateway defaults loopback-only clients to native');
  const port = 'http://127.0.0.1:5555/callback';
  const pkce = pkcePair();
  const answer = await authorizeOnce(codeRequest(setup.issuer, client.client_id, pkce, { redirect_uri: port, resource: setup.notes }));
  assert.equal(answer.status, 303, `another loopback port is accepted: ${answer.html.replace(/\s+/g, ' ').slice(-300)}`);
  const browser = new FormBrowser(setup.issuer);
  const callback = await browser.authorize(codeRequest(setup.issuer, client.client_id, pkce, { redirect_uri: port, resource: setup.notes }), port, { username: 'alice' });
  assert.ok(callback.searchParams.get('code'), callback.href);
});

test('RFC 8252 loopback limits: another path or host is refused for a native client; a web client must match the port exactly', async () => {
  const native = await registerClient(setup.issuer, { application_type: 'native' });
  const pkce = pkcePair();
  for (const redirect of ['http://127.0.0.1:5555/other', 'http://localhost:5555/callback', 'http://[::1]:5555/callback', 'https://127.0.0.1:5555/callback', 'http://127.0.0.1:5555/callback?x=1']) {
    assertErrorPage(await authorizeOnce(codeRequest(setup.issuer, native.client_id, pkce, { redirect_uri: redirect, resource: setup.notes })), `native ${redirect}`);
  }
  const web = await registerClient(setup.issuer, { application_type: 'web' });
  assert.equal(web.application_type, 'web');
  assertErrorPage(await authorizeOnce(codeRequest(setup.issuer, web.client_id, pkce, { redirect_uri: 'http://127.0.0.1:5555/callback', resource: setup.notes })), 'web client, other port');
  const exact = await authorizeOnce(codeRequest(setup.issuer, web.client_id, pkce, { resource: setup.notes }));
  assert.equal(exact.status, 303);
  assert.match(exact.location!.pathname, /^\/oauth\/interaction\//, 'the exact registered URI is accepted');
});

test('DCR flooding: the 4th registration in a burst of 3 gets 429 with Retry-After; DCR cannot claim client_credentials or warden_client_kind', async () => {
  const limited = await startOAuthGateway({ registration: { perIp: { requestsPerSecond: 0.01, burst: 3 } } });
  try {
    for (let i = 0; i < 3; i++) assert.equal((await register(limited.issuer, { client_name: `c${i}` })).status, 201, `registration ${i + 1}`);
    const fourth = await register(limited.issuer, { client_name: 'c4' });
    assert.equal(fourth.status, 429);
    const retryAfter = Number(fourth.headers.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter > 0, `Retry-After: ${fourth.headers.get('retry-after')}`);
    assert.equal(fourth.json.client_id, undefined);
    assert.match(fourth.json.error_description, /too many client registrations/);
    // Other endpoints are not behind the registration limit.
    assert.equal((await fetch(`${limited.issuer}/.well-known/oauth-authorization-server`)).status, 200);
  } finally {
    await limited.close();
  }

  const cc = await register(setup.issuer, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic' });
  assert.equal(cc.status, 400, JSON.stringify(cc.json));
  assert.equal(cc.json.error, 'invalid_client_metadata');
  assert.match(cc.json.error_description, /client_credentials/);
  const mixed = await register(setup.issuer, { grant_types: ['authorization_code', 'client_credentials'], token_endpoint_auth_method: 'client_secret_basic' });
  assert.equal(mixed.status, 400, JSON.stringify(mixed.json));
  const kind = await register(setup.issuer, { warden_client_kind: 'service' });
  assert.equal(kind.status, 400, JSON.stringify(kind.json));
  assert.equal(kind.json.error, 'invalid_client_metadata');
  assert.match(kind.json.error_description, /warden_client_kind/);
});

test('consent: a reader asking for notes:write gets request ∩ roles (notes:read only), the page says notes:write is not granted; denying gives access_denied', async () => {
  const signed = await signIn(setup.issuer, { username: 'bob', scope: 'notes:read notes:write', resource: setup.notes });
  const consent = signed.browser.pages.find((p) => p.html.includes('Allow access?'));
  assert.ok(consent, 'a consent page was shown');
  assert.match(consent.html, /Not granted:[^<]*<code>notes:write<\/code>/, 'notes:write is named as not granted');
  assert.match(consent.html, /<strong><code>notes:read<\/code><\/strong>/, 'notes:read is offered');
  assert.doesNotMatch(consent.html, /<strong><code>notes:write<\/code><\/strong>/, 'notes:write is not offered');
  assert.ok(signed.code);
  const tokens = await exchangeCode(setup.issuer, signed);
  assert.equal(tokens.status, 200);
  assert.equal(tokens.json.scope, 'notes:read');
  assert.equal(decodeJwt(tokens.json.access_token).scope, 'notes:read');
  assert.equal(decodeJwt(tokens.json.access_token).sub, 'bob');
  // The refresh keeps the cut: asking for the withheld scope again does not bring it back.
  const wider = await refresh(setup.issuer, signed.clientId, tokens.json.refresh_token, { scope: 'notes:read notes:write' });
  if (wider.status === 200) {
    assert.equal(wider.json.scope, 'notes:read', JSON.stringify(wider.json));
    assert.equal(decodeJwt(wider.json.access_token).scope, 'notes:read');
  } else {
    assert.equal(wider.json.error, 'invalid_scope', JSON.stringify(wider.json));
  }

  const denied = await signIn(setup.issuer, { username: 'alice', scope: 'notes:read notes:write', resource: setup.notes, decision: 'deny' });
  assert.equal(denied.callback.searchParams.get('error'), 'access_denied');
  assert.equal(denied.callback.searchParams.get('code'), null);
  assert.equal(denied.callback.searchParams.get('state'), 'st4te');
  assert.equal(denied.code, '');
});

test('login CSRF: no csrf or the csrf of another interaction is 403 without a sign-in; a POST without the interaction cookie is a 400 page', async () => {
  const { client_id } = await registerClient(setup.issuer);
  const victim = new FormBrowser(setup.issuer);
  const page = await openInteraction(victim, codeRequest(setup.issuer, client_id, pkcePair(), { resource: setup.notes }));
  const other = new FormBrowser(setup.issuer);
  const otherPage = await openInteraction(other, codeRequest(setup.issuer, client_id, pkcePair(), { resource: setup.notes }));
  assert.notEqual(page.uid, otherPage.uid);
  assert.notEqual(page.csrf, otherPage.csrf, 'the csrf token is bound to the interaction');

  const post = async (browser: FormBrowser, form: Record<string, string>) => {
    const res = await browser.request(page.action, { form });
    return { status: res.status, location: res.headers.get('location'), html: await res.text() };
  };
  for (const [label, form] of [
    ['no csrf', { username: 'alice', password: PASSWORD }],
    ['empty csrf', { csrf: '', username: 'alice', password: PASSWORD }],
    ['csrf of another interaction', { csrf: otherPage.csrf, username: 'alice', password: PASSWORD }],
    ['truncated csrf', { csrf: page.csrf.slice(0, -1), username: 'alice', password: PASSWORD }],
  ] as const) {
    const answer = await post(victim, form);
    assert.equal(answer.status, 403, label);
    assert.equal(answer.location, null, `${label}: no redirect onwards`);
    assert.match(answer.html, /could not be verified/, label);
  }
  // Nobody was signed in: the interaction still asks for a password.
  const again = await readInteraction(victim, page.url);
  assert.match(again.action, /\/login$/);
  assert.ok(!victim.cookies.has('warden_session'), 'no session cookie was set');

  // A cross-site POST carries no (SameSite=Lax) interaction cookie: refused before anything else.
  const cookieless = new FormBrowser(setup.issuer);
  const answer = await post(cookieless, { csrf: page.csrf, username: 'alice', password: PASSWORD });
  assert.equal(answer.status, 400);
  assert.equal(answer.location, null);
  assert.match(answer.html, /expired or was started in another browser/);
  // And the other browser's own cookie does not open the victim's interaction.
  const crossed = await post(other, { csrf: page.csrf, username: 'alice', password: PASSWORD });
  assert.equal(crossed.status, 400);
  assert.match(crossed.html, /does not belong to the sign-in in progress/);
  // The real form still works afterwards.
  const ok = await post(victim, { csrf: page.csrf, username: 'alice', password: PASSWORD });
  assert.equal(ok.status, 303, ok.html.slice(0, 300));
});

test('per-IP login limit: with a burst of 2 the 3rd sign-in attempt gets 429 with Retry-After', async () => {
  const limited = await startOAuthGateway({ login: { perIp: { requestsPerSecond: 0.01, burst: 2 } } });
  try {
    const { client_id } = await registerClient(limited.issuer);
    const browser = new FormBrowser(limited.issuer);
    const login = await openInteraction(browser, codeRequest(limited.issuer, client_id, pkcePair(), { resource: limited.notes }));
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 3; i++) {
      last = await browser.request(login.action, { form: { csrf: login.csrf, username: 'alice', password: `guess-${i}` } });
      statuses.push(last.status);
      if (i < 2) await last.text();
    }
    assert.deepEqual(statuses, [401, 401, 429]);
    assert.ok(Number(last!.headers.get('retry-after')) > 0);
    assert.match(await last!.text(), /Too many sign-in attempts/);
    // Even the right password waits: the limit is taken before the password is checked.
    const right = await browser.request(login.action, { form: { csrf: login.csrf, username: 'alice', password: PASSWORD } });
    assert.equal(right.status, 429);
    assert.equal(right.headers.get('location'), null);
  } finally {
    await limited.close();
  }
});

test('clickjacking and caching: sign-in, consent and error pages send CSP frame-ancestors none, X-Frame-Options DENY, no-store, and no script', async () => {
  const { client_id } = await registerClient(setup.issuer);
  const browser = new FormBrowser(setup.issuer);
  const login = await openInteraction(browser, codeRequest(setup.issuer, client_id, pkcePair(), { resource: setup.notes, scope: 'notes:read notes:write' }));
  const posted = await browser.request(login.action, { form: { csrf: login.csrf, username: 'alice', password: PASSWORD } });
  const consent = await follow(browser, posted, login.action);
  assert.match(consent.html, /Allow access\?/);
  const wrongPassword = await browser.request(login.action, { form: { csrf: login.csrf, username: 'alice', password: 'nope' } });
  const errorPage = await authorizeOnce(codeRequest(setup.issuer, client_id, pkcePair(), { redirect_uri: 'https://evil.example/cb' }));
  const notFound = await browser.request('/oauth/interaction/no-such-interaction');
  const device = await browser.request('/oauth/device');

  const pages: [string, { status: number; headers: Headers; html: string }][] = [
    ['login', login],
    ['consent', consent],
    ['re-rendered after a failed POST', { status: wrongPassword.status, headers: wrongPassword.headers, html: await wrongPassword.text() }],
    ['authorization error', errorPage],
    ['unknown interaction', { status: notFound.status, headers: notFound.headers, html: await notFound.text() }],
    ['device code entry', { status: device.status, headers: device.headers, html: await device.text() }],
  ];
  for (const [label, page] of pages) {
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /frame-ancestors 'none'/, `${label} (${page.status}): ${csp}`);
    assert.match(csp, /default-src 'none'/, label);
    assert.doesNotMatch(csp, /script-src/, `${label}: no script source is allowed`);
    assert.equal(page.headers.get('x-frame-options'), 'DENY', label);
    assert.match(page.headers.get('cache-control') ?? '', /no-store/, label);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff', label);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/, label);
    assert.doesNotMatch(page.html, /<script/i, `${label}: no script element`);
  }
});

test('clickjacking and caching of verification_uri_complete: the auto-submitting page oidc-provider serves for ?user_code= has the page headers too', async () => {
  const res = await fetch(`${setup.issuer}/oauth/device?user_code=BCDFGHJK`);
  const html = await res.text();
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-frame-options'), 'DENY', 'not framable');
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /frame-ancestors 'none'/, `CSP: ${csp}`);
  assert.match(res.headers.get('cache-control') ?? '', /no-store/, 'the page holds the session xsrf secret: not cached');
  // The page submits itself with one inline script: allowed by its hash only, so the flow still works under the CSP.
  const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1];
  if (script !== undefined) {
    const scriptSrc = /script-src([^;]*)/.exec(csp)?.[1] ?? '';
    assert.doesNotMatch(scriptSrc, /unsafe-inline/);
    assert.ok(scriptSrc.includes(`'sha256-${createHash('sha256').update(script).digest('base64')}'`), `the script's hash is allowed: ${csp}`);
  }
});
