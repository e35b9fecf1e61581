import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import {
  FormBrowser, PASSWORD, REDIRECT, auditRecords, eventually, registerClient, startOAuthGatewayForAttacks, withStore, type OAuthSetup,
} from '../helpers/oauth.js';
import { warden } from '../helpers/cli.js';
import { callTool, initialize, type HttpAnswer } from '../helpers/client.js';
import { authorizeUrl, basicAuth, exchangeCode, obtainCode, obtainTokens, pkcePair, postForm, remember, seenSecrets, tokenRequest } from '../helpers/oauth-flow.js';
import {
  attackerKey, claimsLike, forgeWithRealKey, hmacJwt, publicKeyAsSecrets, readSigningKey, signWith, unsecuredJwt, type RealKey,
} from '../helpers/jwt-forgery.js';
import { revocationContext, revokeUser } from '../../src/authorization-server/revoke.js';
import { verifyAuditChain, verifyAuditChains, type ChainedAuditRecord } from '../../src/audit/index.js';

let setup: OAuthSetup;
let key: RealKey;
/** A real access token for alice at notes: the template forged tokens copy their claims from. */
let template: string;

before(async () => {
  // Each test signs in afresh through its own registered client: the file's dozens of flows need the lifted limits.
  setup = await startOAuthGatewayForAttacks();
  key = await readSigningKey(setup.dbPath);
  template = (await obtainTokens(setup.issuer, { username: 'alice', resource: setup.notes })).access_token;
});
after(async () => {
  await setup?.close();
});

/** The gateway refused the request with a 401 Bearer challenge naming invalid_token; the message matches `why`. */
function assertRefused(res: HttpAnswer, why: RegExp, what: string): void {
  assert.equal(res.status, 401, `${what}: expected 401, got ${res.status} ${res.text.slice(0, 300)}`);
  const challenge = res.headers.get('www-authenticate') ?? '';
  assert.match(challenge, /^Bearer /, `${what}: a Bearer challenge`);
  assert.match(challenge, /error="invalid_token"/, `${what}: ${challenge}`);
  assert.match(challenge, /resource_metadata="[^"]+"/, `${what}: ${challenge}`);
  const message = String(res.json?.error?.message ?? '');
  assert.match(message, why, `${what}: message was ${JSON.stringify(message)}`);
}

/** A forged token the gateway accepts: proves the forging works, so each refusal below is the check under test. */
async function assertForgeryWorks(): Promise<void> {
  const good = await forgeWithRealKey(key, claimsLike(template));
  const res = await initialize(setup.notes, good);
  assert.equal(res.status, 200, `control: a token signed with the real key and valid claims is accepted: ${res.text.slice(0, 300)}`);
}

const now = () => Math.floor(Date.now() / 1000);

test('1. a valid access token from the real flow (PKCE S256, resource, sign-in, consent) calls a tool on notes', async () => {
  const tokens = await obtainTokens(setup.issuer, { username: 'alice', resource: setup.notes });
  assert.equal(tokens.token_type, 'Bearer');
  assert.ok(tokens.refresh_token, 'a refresh token');
  assert.deepEqual(decodeProtectedHeader(tokens.access_token), { alg: 'ES256', typ: 'at+jwt', kid: key.kid });
  const claims = decodeJwt(tokens.access_token);
  assert.equal(claims.iss, setup.issuer);
  assert.equal(claims.aud, setup.notes);
  assert.equal(claims.sub, 'alice');
  assert.equal(claims.client_id, tokens.clientId);
  assert.deepEqual(String(claims.scope).split(' ').sort(), ['notes:read', 'notes:write']);
  assert.deepEqual(claims.roles, ['writer'], 'the roles the scopes were cut to, for policies at the gateway');

  const res = await callTool(setup.notes, tokens.access_token, 'list_notes');
  assert.equal(res.init.status, 200, res.init.text.slice(0, 300));
  assert.equal(res.init.json?.result?.serverInfo?.name, 'warden-demo-notes');
  assert.equal(res.status, 200, res.text.slice(0, 300));
  assert.notEqual(res.json?.result?.isError, true, res.text.slice(0, 300));
  assert.match(String(res.json?.result?.content?.[0]?.text), /welcome/);

  // bob is a reader: asking for notes:write gets a token without it (request ∩ roles), which still reads.
  const bob = await obtainTokens(setup.issuer, { username: 'bob', resource: setup.notes });
  assert.equal(decodeJwt(bob.access_token).scope, 'notes:read');
  assert.equal((await callTool(setup.notes, bob.access_token, 'list_notes')).status, 200);
});

test('2. audience confusion: a token for notes is refused at web, and web never sees the request', async () => {
  const notes = await obtainTokens(setup.issuer, { username: 'alice', resource: setup.notes });
  const marker = `aud-confusion-${randomUUID()}`;
  const res = await initialize(setup.webResource, notes.access_token, marker);
  assertRefused(res, /another resource/, 'notes token at web');
  const reached = setup.web.seen.filter((r) => JSON.stringify(r.body ?? '').includes(marker));
  assert.deepEqual(reached, [], 'the web upstream received nothing of the refused request');
  assert.ok(!setup.web.seen.some((r) => JSON.stringify(r.headers).includes(notes.access_token)), 'the token never reached the upstream');

  // And the other way round; a web token works at web (so the refusal above is the audience, not the upstream).
  const web = await obtainTokens(setup.issuer, { username: 'alice', resource: setup.webResource });
  assert.equal(decodeJwt(web.access_token).aud, setup.webResource);
  assertRefused(await initialize(setup.notes, web.access_token), /another resource/, 'web token at notes');
  const ok = await initialize(setup.webResource, web.access_token, `aud-ok-${randomUUID()}`);
  assert.equal(ok.status, 200, ok.text.slice(0, 300));
  // The gateway's own credential never goes upstream either (it sends its identity JWT instead).
  assert.ok(!setup.web.seen.some((r) => JSON.stringify(r.headers).includes(web.access_token)), 'the access token is not forwarded to the upstream');
});

test('3. an expired token signed with the real key is refused (and the same token unexpired is accepted)', async () => {
  const t = now();
  const fresh = await forgeWithRealKey(key, claimsLike(template, { iat: t - 30, exp: t + 300 }));
  assert.equal((await initialize(setup.notes, fresh)).status, 200, 'control: the forged token with a future exp is accepted');
  const expired = await forgeWithRealKey(key, claimsLike(template, { iat: t - 700, exp: t - 60 }));
  assertRefused(await initialize(setup.notes, expired), /expired/, 'exp a minute ago');
  const noExp = await forgeWithRealKey(key, claimsLike(template, { exp: undefined }));
  assertRefused(await initialize(setup.notes, noExp), /not valid/, 'no exp at all');
  const notYet = await forgeWithRealKey(key, claimsLike(template, { nbf: t + 600 }));
  assertRefused(await initialize(setup.notes, notYet), /not valid/, 'nbf in ten minutes');
});

test('4. a token with a wrong iss (signed with the real key) is refused', async () => {
  await assertForgeryWorks();
  const evil = await forgeWithRealKey(key, claimsLike(template, { iss: 'https://evil.example' }));
  assertRefused(await initialize(setup.notes, evil), /another authorization server/, 'iss https://evil.example');
  const slash = await forgeWithRealKey(key, claimsLike(template, { iss: `${setup.issuer}/` }));
  assertRefused(await initialize(setup.notes, slash), /another authorization server/, 'iss with a trailing slash');
  const none = await forgeWithRealKey(key, claimsLike(template, { iss: undefined }));
  assertRefused(await initialize(setup.notes, none), /not valid|another authorization server/, 'no iss');
});

test('5. alg none: an unsecured JWT with valid claims is refused', async () => {
  await assertForgeryWorks();
  const claims = claimsLike(template);
  for (const header of [{}, { kid: key.kid }, { alg: 'None' }, { alg: 'NONE', kid: key.kid }]) {
    assertRefused(await initialize(setup.notes, unsecuredJwt(claims, header)), /algorithm|not valid/, `alg none with ${JSON.stringify(header)}`);
  }
});

test('6. HS256 keyed with the public key (algorithm confusion) is refused', async () => {
  await assertForgeryWorks();
  const claims = claimsLike(template);
  // The published JWKS is what an attacker has: use exactly that key as well as the one in the store.
  const jwks = await (await fetch(`${setup.issuer}/oauth/jwks`)).json() as { keys: Record<string, unknown>[] };
  const published = jwks.keys.find((k) => k.kid === key.kid);
  assert.ok(published, 'the signing key is published');
  assert.equal(published.d, undefined, 'the JWKS holds no private part');
  const secrets = [...publicKeyAsSecrets(key.publicJwk), { name: 'the published JWK as JSON', secret: JSON.stringify(published) }];
  for (const { name, secret } of secrets) {
    for (const header of [{ kid: key.kid }, {}]) {
      const token = hmacJwt(claims, header, secret);
      assertRefused(await initialize(setup.notes, token), /algorithm/, `HS256 over ${name} ${JSON.stringify(header)}`);
    }
  }
});

test('7. an unknown kid (a fresh ES256 key) is refused, as are a fresh key claiming the real kid and an embedded jwk', async () => {
  await assertForgeryWorks();
  const attacker = await attackerKey();
  const claims = claimsLike(template);
  const nope = await signWith(attacker.privateJwk, claims, { kid: 'nope', typ: 'at+jwt' });
  assertRefused(await initialize(setup.notes, nope), /key this gateway does not know/, 'kid nope');
  const stolenKid = await signWith(attacker.privateJwk, claims, { kid: key.kid, typ: 'at+jwt' });
  assertRefused(await initialize(setup.notes, stolenKid), /not valid/, 'an attacker key under the real kid');
  const noKid = await signWith(attacker.privateJwk, claims, { typ: 'at+jwt' });
  assertRefused(await initialize(setup.notes, noKid), /not valid/, 'an attacker key without kid');
  const embedded = await signWith(attacker.privateJwk, claims, { typ: 'at+jwt', jwk: { kty: attacker.publicJwk.kty, crv: attacker.publicJwk.crv, x: attacker.publicJwk.x, y: attacker.publicJwk.y } });
  assertRefused(await initialize(setup.notes, embedded), /not valid/, 'an attacker key embedded in the header (jwk)');
  const jku = await signWith(attacker.privateJwk, claims, { kid: 'nope2', typ: 'at+jwt', jku: 'http://127.0.0.1:9/jwks.json' });
  assertRefused(await initialize(setup.notes, jku), /key this gateway does not know/, 'a jku header pointing elsewhere');
});

test('8. a token with the wrong typ (JWT, the identity JWT type, none) is refused, even otherwise valid; a real identity JWT too', async () => {
  await assertForgeryWorks();
  const claims = claimsLike(template);
  for (const typ of ['JWT', 'jwt', 'warden-identity+jwt', 'application/jwt']) {
    const token = await forgeWithRealKey(key, claims, { typ });
    assertRefused(await initialize(setup.notes, token), /not valid/, `typ ${typ}`);
  }
  const untyped = await forgeWithRealKey(key, claims, { typ: undefined });
  assert.equal(decodeProtectedHeader(untyped).typ, undefined);
  assertRefused(await initialize(setup.notes, untyped), /not valid/, 'no typ');

  // The identity JWT the gateway itself sends upstream, replayed by that upstream as a bearer token.
  const web = await obtainTokens(setup.issuer, { username: 'alice', resource: setup.webResource });
  const marker = `identity-${randomUUID()}`;
  assert.equal((await initialize(setup.webResource, web.access_token, marker)).status, 200);
  const seen = setup.web.seen.find((r) => JSON.stringify(r.body ?? '').includes(marker));
  const identity = seen?.headers['x-warden-identity'];
  assert.equal(typeof identity, 'string', 'the upstream received an identity JWT');
  assert.equal(decodeProtectedHeader(identity as string).typ, 'warden-identity+jwt');
  remember(identity as string);
  for (const target of [setup.webResource, setup.notes]) {
    assertRefused(await initialize(target, identity as string), /not valid|key this gateway does not know|another resource/, `identity JWT replayed at ${target}`);
  }
});

test('9. a token without aud, or with the aud of another upstream or of the issuer, is refused', async () => {
  await assertForgeryWorks();
  const missing = await forgeWithRealKey(key, claimsLike(template, { aud: undefined }));
  assertRefused(await initialize(setup.notes, missing), /another resource/, 'no aud');
  const web = await forgeWithRealKey(key, claimsLike(template, { aud: setup.webResource }));
  assertRefused(await initialize(setup.notes, web), /another resource/, 'aud of web at notes');
  const issuer = await forgeWithRealKey(key, claimsLike(template, { aud: setup.issuer }));
  assertRefused(await initialize(setup.notes, issuer), /another resource/, 'aud of the issuer');
  const prefix = await forgeWithRealKey(key, claimsLike(template, { aud: `${setup.notes}-other` }));
  assertRefused(await initialize(setup.notes, prefix), /another resource/, 'aud that only starts like notes');
  const empty = await forgeWithRealKey(key, claimsLike(template, { aud: [] }));
  assertRefused(await initialize(setup.notes, empty), /another resource|not valid/, 'aud []');
});

test('10a. revoking the refresh token (RFC 7009, public client) holds on the next MCP call with the unexpired access token', async () => {
  const tokens = await obtainTokens(setup.issuer, { username: 'alice', resource: setup.notes });
  assert.equal((await initialize(setup.notes, tokens.access_token)).status, 200, 'works before');
  const revoked = await postForm(setup.issuer, 'revoke', { token: tokens.refresh_token, token_type_hint: 'refresh_token', client_id: tokens.clientId });
  assert.equal(revoked.status, 200, revoked.text);
  assert.ok(decodeJwt(tokens.access_token).exp! > now() + 60, 'the access token itself is far from expiry');
  assertRefused(await initialize(setup.notes, tokens.access_token), /revoked/, 'access token after its grant was revoked');
  const refresh = await tokenRequest(setup.issuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: tokens.clientId });
  assert.equal(refresh.status, 400, JSON.stringify(refresh.json));
  assert.equal(refresh.json.error, 'invalid_grant');
  // Another user's token is untouched.
  const bob = await obtainTokens(setup.issuer, { username: 'bob', resource: setup.notes });
  assert.equal((await initialize(setup.notes, bob.access_token)).status, 200);
});

test('10b. `warden tokens revoke --user alice` (built CLI, other process) and revokeUser for bob hold on the next call', async () => {
  const alice = await obtainTokens(setup.issuer, { username: 'alice', resource: setup.notes });
  const aliceWeb = await obtainTokens(setup.issuer, { username: 'alice', resource: setup.webResource });
  const bob = await obtainTokens(setup.issuer, { username: 'bob', resource: setup.notes });
  for (const [url, t] of [[setup.notes, alice], [setup.webResource, aliceWeb], [setup.notes, bob]] as const) {
    assert.equal((await initialize(url, t.access_token)).status, 200, 'works before');
  }

  const dir = mkdtempSync(join(tmpdir(), 'warden-tokens-'));
  const file = join(dir, 'warden.yaml');
  writeFileSync(file, `upstreams: { notes: { url: "http://127.0.0.1:9/mcp" } }
auth: { oauth: {} }
authorization:
  scopes:
    "notes:read": { tools: [list_notes] }
store: { sqlite: ${JSON.stringify(setup.dbPath)} }
`);
  const run = await warden(['tokens', 'revoke', '--user', 'alice', '--config', file]);
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /revoked \d+ grants? of/);

  assertRefused(await initialize(setup.notes, alice.access_token), /revoked/, "alice's notes token after the CLI revoked her");
  assertRefused(await initialize(setup.webResource, aliceWeb.access_token), /revoked/, "alice's web token after the CLI revoked her");
  const refresh = await tokenRequest(setup.issuer, { grant_type: 'refresh_token', refresh_token: alice.refresh_token, client_id: alice.clientId });
  assert.equal(refresh.json.error, 'invalid_grant', 'her refresh token is gone');
  assert.equal((await initialize(setup.notes, bob.access_token)).status, 200, 'bob is untouched');

  // The same operation as a library call on a second connection, as the CLI makes it.
  await withStore(setup.dbPath, async (store) => {
    const grants = await revokeUser(revocationContext(store, 600_000), 'bob');
    assert.ok(grants.length >= 1, 'bob had grants');
  });
  assertRefused(await initialize(setup.notes, bob.access_token), /revoked/, "bob's token after revokeUser");

  // Tokens issued after the revocation work again (iat has whole seconds: wait for the next one).
  await new Promise((r) => setTimeout(r, 1_100));
  const again = await obtainTokens(setup.issuer, { username: 'alice', resource: setup.notes });
  assert.equal((await initialize(setup.notes, again.access_token)).status, 200, 'a new sign-in after the revocation works');
});

test('10c. revoking the access token itself (RFC 7009, a JWT) holds on the next call; another client cannot revoke it', async () => {
  const tokens = await obtainTokens(setup.issuer, { username: 'alice', resource: setup.notes });
  assert.equal((await initialize(setup.notes, tokens.access_token)).status, 200, 'works before');

  // Another public client tries to revoke it: RFC 7009 answers 200 either way, and the token must still work.
  const other = await registerClient(setup.issuer, { redirect_uris: [REDIRECT] });
  const foreign = await postForm(setup.issuer, 'revoke', { token: tokens.access_token, token_type_hint: 'access_token', client_id: other.client_id });
  assert.equal(foreign.status, 200, foreign.text);
  assert.equal((await initialize(setup.notes, tokens.access_token)).status, 200, "another client's revocation request changed nothing");

  const own = await postForm(setup.issuer, 'revoke', { token: tokens.access_token, token_type_hint: 'access_token', client_id: tokens.clientId });
  assert.equal(own.status, 200, own.text);
  assertRefused(await initialize(setup.notes, tokens.access_token), /revoked/, 'the revoked access token');

  // Only that token: the refresh token still gives a new access token, which works.
  const refreshed = await tokenRequest(setup.issuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: tokens.clientId, resource: setup.notes });
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.json));
  remember(refreshed.json.access_token, refreshed.json.refresh_token);
  assert.notEqual(decodeJwt(refreshed.json.access_token).jti, decodeJwt(tokens.access_token).jti);
  assert.equal((await initialize(setup.notes, refreshed.json.access_token)).status, 200, 'the refreshed access token works');
  assertRefused(await initialize(setup.notes, tokens.access_token), /revoked/, 'the revoked one still does not');
});

test('11. introspection (RFC 7662): a confidential client sees active tokens, revoked and garbage ones inactive; no client auth is refused', async () => {
  const rs = await registerClient(setup.issuer, { token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [REDIRECT], client_name: 'Resource server' });
  assert.equal(typeof rs.client_secret, 'string', 'a confidential client gets a secret');
  const secret = rs.client_secret as string;
  remember(secret);
  const auth = basicAuth(rs.client_id, secret);
  const tokens = await obtainTokens(setup.issuer, { username: 'alice', resource: setup.notes });

  const active = await postForm(setup.issuer, 'introspect', { token: tokens.access_token }, auth);
  assert.equal(active.status, 200, active.text);
  assert.equal(active.headers.get('cache-control'), 'no-store');
  assert.equal(active.json.active, true, active.text);
  assert.equal(active.json.sub, 'alice');
  assert.equal(active.json.aud, setup.notes);
  assert.equal(active.json.client_id, tokens.clientId);
  assert.deepEqual(String(active.json.scope).split(' ').sort(), ['notes:read', 'notes:write']);
  assert.equal(active.json.iss, setup.issuer);
  assert.equal(typeof active.json.exp, 'number');

  // A public client: its own token yes, someone else's no.
  const own = await postForm(setup.issuer, 'introspect', { token: tokens.access_token, client_id: tokens.clientId });
  assert.equal(own.json?.active, true, own.text);
  const stranger = await registerClient(setup.issuer, { redirect_uris: [REDIRECT] });
  const foreign = await postForm(setup.issuer, 'introspect', { token: tokens.access_token, client_id: stranger.client_id });
  assert.equal(foreign.status, 200, foreign.text);
  assert.deepEqual(foreign.json, { active: false }, 'a public client learns nothing about another client\'s token');

  // Garbage, a JWT-shaped string and a forgery with an attacker's key.
  const attacker = await attackerKey();
  const forged = await signWith(attacker.privateJwk, claimsLike(template), { kid: 'nope', typ: 'at+jwt' });
  for (const token of ['garbage', 'aaa.bbb.ccc', forged, unsecuredJwt(claimsLike(template))]) {
    const res = await postForm(setup.issuer, 'introspect', { token }, auth);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { active: false }, `inactive: ${token.slice(0, 20)}`);
  }

  // No or wrong client authentication.
  // No client at all: oidc-provider answers 400 invalid_request ("no client authentication mechanism
  // provided"); RFC 6749 §5.2 would also allow 401 invalid_client. Either way: refused, nothing disclosed.
  const noAuth = await postForm(setup.issuer, 'introspect', { token: tokens.access_token });
  assert.ok(noAuth.status === 400 || noAuth.status === 401, `no client auth: ${noAuth.status} ${noAuth.text}`);
  assert.ok(noAuth.json?.error === 'invalid_client' || noAuth.json?.error === 'invalid_request', noAuth.text);
  assert.deepEqual(Object.keys(noAuth.json).sort(), ['error', 'error_description'], 'nothing about the token');
  const idOnly = await postForm(setup.issuer, 'introspect', { token: tokens.access_token, client_id: rs.client_id });
  assert.equal(idOnly.status, 401, idOnly.text);
  assert.equal(idOnly.json.error, 'invalid_client');
  const wrong = await postForm(setup.issuer, 'introspect', { token: tokens.access_token }, basicAuth(rs.client_id, `${secret}x`));
  assert.equal(wrong.status, 401, wrong.text);
  assert.equal(wrong.json.error, 'invalid_client');
  assert.match(wrong.headers.get('www-authenticate') ?? '', /^Basic /);

  // The refresh token is introspected by oidc-provider itself.
  const rt = await postForm(setup.issuer, 'introspect', { token: tokens.refresh_token }, auth);
  assert.equal(rt.json.active, true, rt.text);
  assert.equal(rt.json.sub, 'alice');

  // After revocation: inactive.
  const revoked = await postForm(setup.issuer, 'revoke', { token: tokens.refresh_token, client_id: tokens.clientId });
  assert.equal(revoked.status, 200, revoked.text);
  const after = await postForm(setup.issuer, 'introspect', { token: tokens.access_token }, auth);
  assert.deepEqual(after.json, { active: false }, after.text);
  const rtAfter = await postForm(setup.issuer, 'introspect', { token: tokens.refresh_token }, auth);
  assert.deepEqual(rtAfter.json, { active: false }, rtAfter.text);
});

test('14. stolen or replayed authorization codes: no verifier, a wrong verifier, another client or redirect_uri fail; a replay revokes the grant', async () => {
  const grant = await obtainCode(setup.issuer, { username: 'alice', resource: setup.notes });
  const other = await registerClient(setup.issuer, { redirect_uris: [REDIRECT, 'http://127.0.0.1:9998/callback'] });
  const attempts: [string, Record<string, string | undefined>][] = [
    ['no code_verifier', { code_verifier: undefined }],
    ['a wrong code_verifier', { code_verifier: pkcePair().verifier }],
    ['the code_challenge as verifier (plain)', { code_verifier: createHash('sha256').update(grant.pkce.verifier).digest('base64url') }],
    ['another client', { client_id: other.client_id }],
    ['another redirect_uri', { redirect_uri: 'http://127.0.0.1:9998/callback' }],
  ];
  for (const [what, overrides] of attempts) {
    const res = await exchangeCode(setup.issuer, grant, overrides);
    assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.json)}`);
    assert.match(String(res.json.error), /invalid_grant|invalid_request/, `${what}: ${JSON.stringify(res.json)}`);
    assert.equal(res.json.access_token, undefined);
  }
  // The failed attempts do not burn the code (the verifier is what a thief lacks, and it cannot be guessed):
  // the client that holds the verifier still exchanges it, once.
  const first = await exchangeCode(setup.issuer, grant, { resource: setup.notes });
  assert.equal(first.status, 200, JSON.stringify(first.json));
  assert.equal((await initialize(setup.notes, first.json.access_token)).status, 200, 'the first exchange works');
  const replay = await exchangeCode(setup.issuer, grant, { resource: setup.notes });
  assert.equal(replay.status, 400, JSON.stringify(replay.json));
  assert.equal(replay.json.error, 'invalid_grant');
  // OAuth 2.1 §4.1.3: a replayed code should revoke the tokens issued with it.
  assertRefused(await initialize(setup.notes, first.json.access_token), /revoked/, 'the access token of a replayed code');
  const refresh = await tokenRequest(setup.issuer, { grant_type: 'refresh_token', refresh_token: first.json.refresh_token, client_id: grant.clientId });
  assert.equal(refresh.json.error, 'invalid_grant', 'its refresh token is gone too');
});

test('15. resource switching at the token endpoint: a code or refresh token granted for notes never yields a token for web', async () => {
  const grant = await obtainCode(setup.issuer, { username: 'alice', resource: setup.notes });
  const switched = await exchangeCode(setup.issuer, grant, { resource: setup.webResource });
  assert.equal(switched.status, 400, JSON.stringify(switched.json));
  assert.equal(switched.json.error, 'invalid_target');
  const tokens = await obtainTokens(setup.issuer, { username: 'alice', resource: setup.notes });
  const refreshed = await tokenRequest(setup.issuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: tokens.clientId, resource: setup.webResource });
  remember(refreshed.json?.access_token, refreshed.json?.refresh_token);
  assert.equal(refreshed.status, 400, JSON.stringify(refreshed.json));
  assert.equal(refreshed.json.error, 'invalid_target');
  const unknown = await tokenRequest(setup.issuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: tokens.clientId, resource: 'https://evil.example/mcp' });
  remember(unknown.json?.access_token, unknown.json?.refresh_token);
  assert.equal(unknown.status, 400, JSON.stringify(unknown.json));
  assert.equal(unknown.json.error, 'invalid_target');
});

const WRONG_PASSWORD = `not the password ${randomUUID()}`;

test('13. audit: the chain holds oauth.sign_in, oauth.sign_in_failed, oauth.consent, oauth.token, oauth.revoke, and verifies', async () => {
  // A wrong password: the login page comes back with 401, and the attempt is recorded.
  const client = await registerClient(setup.issuer, { redirect_uris: [REDIRECT] });
  const url = authorizeUrl(setup.issuer, {
    response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, scope: 'notes:read', state: 'x',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', resource: setup.notes,
  });
  const browser = new FormBrowser(setup.issuer);
  await assert.rejects(browser.authorize(url, REDIRECT, { username: 'alice', password: WRONG_PASSWORD }), /answered 401/);
  const page = browser.pages.at(-1)!;
  assert.equal(page.status, 401);
  assert.match(page.html, /Wrong username or password/);
  assert.ok(!page.html.includes(WRONG_PASSWORD), 'the page does not echo the password');

  // A whole flow, a refresh, a revocation, so that every kind is there.
  const tokens = await obtainTokens(setup.issuer, { username: 'alice', resource: setup.notes });
  const refreshed = await tokenRequest(setup.issuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: tokens.clientId });
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.json));
  remember(refreshed.json.access_token, refreshed.json.refresh_token);
  const grantId = String(decodeJwt(tokens.access_token).grant_id);
  assert.equal((await postForm(setup.issuer, 'revoke', { token: refreshed.json.refresh_token, client_id: tokens.clientId })).status, 200);

  const records = await eventually('the oauth records', async () => {
    const all = await auditRecords(setup.dbPath);
    const revoke = all.find((r) => r.method === 'oauth.revoke' && r.target === grantId);
    return revoke ? all : undefined;
  });
  const oauth = records.filter((r) => r.event === 'oauth');
  const of = (method: string, pred: (r: ChainedAuditRecord) => boolean = () => true) => oauth.filter((r) => r.method === method && pred(r));
  const mine = (r: ChainedAuditRecord) => r.clientId === tokens.clientId;

  const failed = of('oauth.sign_in_failed', (r) => r.clientId === client.client_id);
  assert.equal(failed.length, 1, JSON.stringify(oauth.map((r) => r.method)));
  assert.equal(failed[0]!.subject, 'alice');
  assert.equal(failed[0]!.decision, 'deny');
  assert.equal(of('oauth.sign_in', mine).length, 1);
  assert.equal(of('oauth.sign_in', mine)[0]!.decision, 'allow');
  assert.equal(of('oauth.consent', mine).length, 1);
  assert.match(String(of('oauth.consent', mine)[0]!.reason), /notes:read/);
  const issued = of('oauth.token', mine);
  assert.equal(issued.length, 2, 'authorization_code, then refresh_token');
  assert.ok(issued.every((r) => r.decision === 'allow' && r.subject === 'alice' && r.credential.id === grantId && r.target === setup.notes), JSON.stringify(issued));
  assert.deepEqual(issued.map((r) => r.reason), ['issued by authorization_code', 'issued by refresh_token']);
  const revoked = of('oauth.revoke', (r) => r.target === grantId);
  assert.equal(revoked.length, 1);
  assert.equal(revoked[0]!.targetKind, 'grant');
  // Earlier tests: the RFC 7009 revocation of an access token (by jti) and the CLI's user revocation.
  assert.ok(of('oauth.revoke', (r) => r.targetKind === 'token').length >= 1, 'an access token revoked by its client');
  assert.ok(records.some((r) => r.event === 'admin' && r.method === 'tokens.revoke' && r.target === 'alice'), 'the CLI recorded its revocation in the same chain');
  // Refused bearer tokens are recorded as failed authentications.
  assert.ok(records.some((r) => r.event === 'authentication' && r.decision === 'deny'), 'refused tokens are audited');

  const verified = await withStore(setup.dbPath, (store) => verifyAuditChains(store.audit));
  assert.equal(verified.ok, true, JSON.stringify(verified));
  assert.ok(verified.records >= records.length);

  // Who: the user whose grant was revoked, as the access-token revocation (subject = sub) and every other
  // oauth record name them, so that `warden audit query --subject alice` finds it.
  assert.equal(revoked[0]!.subject, 'alice', `oauth.revoke of alice's grant names ${revoked[0]!.subject} as its subject`);
});

test('12. no secret leaks: logs, audit records and the store file never hold tokens, codes, verifiers, client secrets or passwords', async () => {
  // A last full flow with a confidential client and a refusal, to make sure every path ran.
  const rs = await registerClient(setup.issuer, { token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [REDIRECT] });
  remember(rs.client_secret as string);
  const tokens = await obtainTokens(setup.issuer, { username: 'alice', resource: setup.notes, client: rs });
  assert.equal((await initialize(setup.notes, tokens.access_token)).status, 200);
  assertRefused(await initialize(setup.webResource, tokens.access_token), /another resource/, 'refusal');
  await postForm(setup.issuer, 'introspect', { token: tokens.access_token }, basicAuth(rs.client_id, rs.client_secret as string));
  await postForm(setup.issuer, 'revoke', { token: tokens.refresh_token }, basicAuth(rs.client_id, rs.client_secret as string));
  await new Promise((r) => setTimeout(r, 200)); // let the asynchronous audit records commit

  const secrets = new Map<string, string>();
  const add = (name: string, value: string) => secrets.set(value, name);
  let n = 0;
  for (const s of seenSecrets) {
    add(`secret #${++n} (${s.slice(0, 6)}…)`, s);
    // A JWT's signature alone identifies it too.
    const parts = s.split('.');
    if (parts.length === 3 && parts[2]!.length > 20) add(`signature of secret #${n}`, parts[2]!);
  }
  add('the password', PASSWORD);
  add('the password, form-encoded', new URLSearchParams({ p: PASSWORD }).toString().slice(2));
  add('the wrong password', WRONG_PASSWORD);
  add('the wrong password, form-encoded', new URLSearchParams({ p: WRONG_PASSWORD }).toString().slice(2));
  assert.ok(secrets.size > 40, `collected ${secrets.size} secrets`);

  const logs = setup.gw.logs.text;
  assert.ok(logs.length > 1_000, 'the gateway logged');
  const audit = (await withStore(setup.dbPath, (store) => store.audit.query({}))).map((r) => r.body).join('\n');
  assert.ok(audit.includes('oauth.token'), 'the audit chain has the oauth records');
  const files = [setup.dbPath, `${setup.dbPath}-wal`].filter(existsSync).map((f) => ({ f, bytes: readFileSync(f) }));
  assert.ok(files.reduce((s, { bytes }) => s + bytes.length, 0) > 10_000, 'the store file has content');

  const leaks: string[] = [];
  for (const [value, name] of secrets) {
    if (logs.includes(value)) leaks.push(`${name} in the gateway log`);
    if (audit.includes(value)) leaks.push(`${name} in the audit records`);
    for (const { f, bytes } of files) if (bytes.includes(Buffer.from(value, 'utf8'))) leaks.push(`${name} in ${f}`);
  }
  // The search itself works: public identifiers that belong there are found the same way.
  assert.ok(audit.includes(tokens.clientId) && logs.includes('/oauth/token'), 'public ids are in the audit records and the log');
  assert.ok(files.some(({ bytes }) => bytes.includes(Buffer.from(tokens.clientId))), 'the client id is in the store file');
  assert.ok(files.some(({ bytes }) => bytes.includes(Buffer.from(key.kid))), 'the signing key id is in the store file');

  assert.deepEqual(leaks, []);
});
