import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSecretKey, randomUUID } from 'node:crypto';
import { SignJWT, decodeJwt } from 'jose';
import { startOAuthGatewayForAttacks, auditRecords, eventually, REDIRECT, type OAuthSetup } from '../helpers/oauth.js';
import { obtainCode, remember } from '../helpers/oauth-flow.js';
import { initialize } from '../helpers/client.js';
import { createKey } from '../helpers/keys.js';
import { DpopKey, dpopTokenRequest, initializeWith } from '../helpers/dpop.js';

/**
 * DPoP (RFC 9449) through the real gateway and its real oidc-provider, with proofs made here with jose: each
 * attack on a DPoP-bound token by name, refused with a DPoP challenge and an audit record; each beside the same
 * request done right, which succeeds.
 */

let setup: OAuthSetup;
let key: DpopKey;
/** alice's DPoP-bound access token for notes, bound to `key`, and its refresh token. */
let token: string;
let refreshToken: string;
let clientId: string;

async function boundTokens(s: OAuthSetup, k: DpopKey, username = 'alice') {
  const grant = await obtainCode(s.issuer, { username, resource: s.notes });
  const answer = await dpopTokenRequest(s.issuer, k, {
    grant_type: 'authorization_code', code: grant.code, redirect_uri: REDIRECT, code_verifier: grant.pkce.verifier, client_id: grant.clientId, resource: s.notes,
  });
  assert.equal(answer.status, 200, answer.text);
  return { ...answer.json, clientId: grant.clientId } as { access_token: string; refresh_token: string; token_type: string; clientId: string };
}

/** An initialize with the token as DPoP and one proof made by `k` with `options`. */
async function call(k: DpopKey, options: Parameters<DpopKey['proof']>[2] & { htm?: string; htu?: string } = {}) {
  const proof = await k.proof(options.htm ?? 'POST', options.htu ?? setup.notes, { accessToken: token, ...options });
  return initializeWith(setup.notes, 'DPoP', token, [proof]);
}

function assertProofRefused(answer: { status: number; headers: Headers; text: string }, reason: RegExp): void {
  assert.equal(answer.status, 401, answer.text);
  const challenge = answer.headers.get('www-authenticate') ?? '';
  assert.match(challenge, /DPoP realm="mcp", algs="ES256 [^"]*EdDSA", error="invalid_dpop_proof"/);
  assert.match(challenge, /resource_metadata="/);
  assert.match(answer.text, reason);
}

before(async () => {
  setup = await startOAuthGatewayForAttacks();
  key = await DpopKey.create();
  const tokens = await boundTokens(setup, key);
  token = tokens.access_token;
  refreshToken = tokens.refresh_token;
  clientId = tokens.clientId;
});
after(async () => {
  await setup?.close();
});

test('the token endpoint binds tokens to the proof key: token_type DPoP, cnf.jkt = the key thumbprint, a refresh token', async () => {
  const claims = decodeJwt(token);
  assert.deepEqual(claims.cnf, { jkt: key.thumbprint });
  assert.ok(refreshToken);
  const again = await boundTokens(setup, key, 'bob');
  assert.equal(again.token_type, 'DPoP');
});

test('control: a DPoP-bound token with a good proof is accepted', async () => {
  const answer = await call(key);
  assert.equal(answer.status, 200, answer.text);
});

test('attack: no proof with a DPoP-bound token is refused', async () => {
  assertProofRefused(await initializeWith(setup.notes, 'DPoP', token, []), /no DPoP proof/);
  assert.equal((await call(key)).status, 200);
});

test('attack: a proof for another method (htm) is refused', async () => {
  assertProofRefused(await call(key, { htm: 'GET' }), /another HTTP method/);
  assert.equal((await call(key, { htm: 'POST' })).status, 200);
});

test('attack: a proof for another URL (htu) is refused; the same URL in another RFC 3986 spelling is accepted', async () => {
  assertProofRefused(await call(key, { htu: setup.webResource }), /another URL/);
  assertProofRefused(await call(key, { htu: `${setup.notes}/extra` }), /another URL/);
  const url = new URL(setup.notes);
  // Scheme and host case, a query and a fragment do not matter (RFC 9449 §4.3 step 9).
  assert.equal((await call(key, { htu: `HTTP://${url.host.toUpperCase()}${url.pathname}?x=1#f` })).status, 200);
});

test('attack: a stale iat and a future iat are refused; one within the window is accepted', async () => {
  const now = Math.floor(Date.now() / 1000);
  assertProofRefused(await call(key, { claims: { iat: now - 120 } }), /too old/);
  assertProofRefused(await call(key, { claims: { iat: now + 120 } }), /in the future/);
  assert.equal((await call(key, { claims: { iat: now - 30 } })).status, 200);
});

test('attack: a replayed jti is refused; a fresh one is accepted', async () => {
  const proof = await key.proof('POST', setup.notes, { accessToken: token });
  assert.equal((await initializeWith(setup.notes, 'DPoP', token, [proof])).status, 200);
  assertProofRefused(await initializeWith(setup.notes, 'DPoP', token, [proof]), /used before/);
  assert.equal((await call(key)).status, 200);
});

test('attack: a wrong ath (a proof for another access token) is refused', async () => {
  assertProofRefused(await call(key, { claims: { ath: 'A'.repeat(43) } }), /another access token/);
  assertProofRefused(await call(key, { claims: { ath: undefined } }), /another access token/);
  assert.equal((await call(key)).status, 200);
});

test('attack: a proof signed by another key than cnf.jkt is refused', async () => {
  const thief = await DpopKey.create();
  assertProofRefused(await call(thief), /another key than the one the token is bound to/);
  assert.equal((await call(key)).status, 200);
});

test("attack: an alg none proof is refused", async () => {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${b64({ alg: 'none', typ: 'dpop+jwt', jwk: key.publicJwk })}.${b64({ jti: randomUUID(), htm: 'POST', htu: setup.notes, iat: Math.floor(Date.now() / 1000), ath: decodeJwt(await key.proof('POST', setup.notes, { accessToken: token })).ath })}.`;
  remember(unsigned);
  assertProofRefused(await initializeWith(setup.notes, 'DPoP', token, [unsigned]), /algorithm is not accepted/);
  assert.equal((await call(key)).status, 200);
});

test('attack: a symmetric (HS256) proof is refused', async () => {
  const secret = createSecretKey(Buffer.alloc(32, 7));
  const jwk = { kty: 'oct', k: Buffer.alloc(32, 7).toString('base64url') };
  const proof = await new SignJWT({ jti: randomUUID(), htm: 'POST', htu: setup.notes, iat: Math.floor(Date.now() / 1000) })
    .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk } as never).sign(secret);
  remember(proof);
  assertProofRefused(await initializeWith(setup.notes, 'DPoP', token, [proof]), /algorithm is not accepted/);
  assert.equal((await call(key)).status, 200);
});

test('attack: a proof whose jwk holds the private key is refused', async () => {
  assertProofRefused(await call(key, { header: { jwk: await key.privateJwk() } }), /private or symmetric key/);
  assert.equal((await call(key)).status, 200);
});

test('attack: a proof with another typ is refused', async () => {
  assertProofRefused(await call(key, { header: { typ: 'JWT' } }), /typ: dpop\+jwt/);
  assert.equal((await call(key)).status, 200);
});

test('attack: a DPoP-bound token sent as Bearer is refused (with or without a proof)', async () => {
  const bare = await initialize(setup.notes, token);
  assert.equal(bare.status, 401);
  assert.match(bare.headers.get('www-authenticate') ?? '', /DPoP realm="mcp", algs="[^"]+", error="invalid_token"/);
  assert.match(bare.text, /DPoP-bound; send it as Authorization: DPoP/);
  const withProof = await initializeWith(setup.notes, 'Bearer', token, [await key.proof('POST', setup.notes, { accessToken: token })]);
  assert.equal(withProof.status, 401);
  assert.equal((await call(key)).status, 200);
});

test('attack: two DPoP headers are refused, even when both are good proofs', async () => {
  const one = await key.proof('POST', setup.notes, { accessToken: token });
  const two = await key.proof('POST', setup.notes, { accessToken: token });
  assertProofRefused(await initializeWith(setup.notes, 'DPoP', token, [one, two]), /more than one DPoP header/);
  assert.equal((await initializeWith(setup.notes, 'DPoP', token, [two])).status, 200);
});

test('allowed: a bearer token (no proof at the token endpoint) still works as Bearer, and is refused under the DPoP scheme', async () => {
  const grant = await obtainCode(setup.issuer, { username: 'alice', resource: setup.notes });
  const answer = await dpopTokenRequest(setup.issuer, undefined, {
    grant_type: 'authorization_code', code: grant.code, redirect_uri: REDIRECT, code_verifier: grant.pkce.verifier, client_id: grant.clientId, resource: setup.notes,
  });
  assert.equal(answer.json.token_type, 'Bearer');
  const bearer = answer.json.access_token as string;
  assert.equal((await initialize(setup.notes, bearer)).status, 200);
  const asDpop = await initializeWith(setup.notes, 'DPoP', bearer, [await key.proof('POST', setup.notes, { accessToken: bearer })]);
  assert.equal(asDpop.status, 401);
  assert.match(asDpop.text, /not DPoP-bound/);
});

test('an API key is a bearer credential: refused under the DPoP scheme, accepted as Bearer', async () => {
  const { key: apiKey } = await createKey(setup.dbPath, { subject: 'svc', scopes: ['notes:read'] });
  const asDpop = await initializeWith(setup.notes, 'DPoP', apiKey, [await key.proof('POST', setup.notes, { accessToken: apiKey })]);
  assert.equal(asDpop.status, 401);
  assert.match(asDpop.text, /bearer credential/);
  assert.equal((await initialize(setup.notes, apiKey)).status, 200);
});

test('attack: a DPoP-bound refresh token is refused without a proof and with another key, and accepted with a proof of its key', async () => {
  const form = { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId };
  const none = await dpopTokenRequest(setup.issuer, undefined, form);
  assert.equal(none.status, 400, none.text);
  assert.equal(none.json.error, 'invalid_grant');
  const thief = await dpopTokenRequest(setup.issuer, await DpopKey.create(), form);
  assert.equal(thief.status, 400, thief.text);
  assert.equal(thief.json.error, 'invalid_grant');
  const good = await dpopTokenRequest(setup.issuer, key, form);
  assert.equal(good.status, 200, good.text);
  assert.equal(good.json.token_type, 'DPoP');
  assert.deepEqual(decodeJwt(good.json.access_token).cnf, { jkt: key.thumbprint });
  // Rotation stays on: the refresh token changed (one-time use and bound to the key).
  assert.notEqual(good.json.refresh_token, refreshToken);
  refreshToken = good.json.refresh_token;
});

test('the metadata says what is supported: AS dpop_signing_alg_values_supported, PRM dpop fields', async () => {
  const as = await (await fetch(`${setup.issuer}/.well-known/oauth-authorization-server`)).json() as Record<string, unknown>;
  assert.ok((as.dpop_signing_alg_values_supported as string[]).includes('ES256'));
  assert.ok(!(as.dpop_signing_alg_values_supported as string[]).some((a) => a.startsWith('HS') || a === 'none'));
  const prm = await (await fetch(`${setup.issuer}/.well-known/oauth-protected-resource/mcp/notes`)).json() as Record<string, unknown>;
  assert.equal(prm.dpop_bound_access_tokens_required, false);
  assert.deepEqual(prm.dpop_signing_alg_values_supported, as.dpop_signing_alg_values_supported);
});

test('a 401 without a credential offers both schemes: Bearer and DPoP with algs', async () => {
  const answer = await initialize(setup.notes, undefined);
  assert.equal(answer.status, 401);
  assert.match(answer.headers.get('www-authenticate') ?? '', /^Bearer realm="mcp", resource_metadata="[^"]+", DPoP realm="mcp", algs="ES256 /);
});

test('every refusal is audited with its reason, and no record holds the token or a proof', async () => {
  const proof = await key.proof('GET', setup.notes, { accessToken: token });
  assert.equal((await initializeWith(setup.notes, 'DPoP', token, [proof])).status, 401);
  const records = await eventually('the refusal record', async () => {
    const all = await auditRecords(setup.dbPath);
    return all.some((r) => /invalid_dpop_proof: the proof is for another HTTP method/.test(r.reason ?? '')) ? all : undefined;
  });
  const refused = records.filter((r) => r.event === 'authentication' && /invalid_dpop_proof|invalid_token/.test(r.reason ?? ''));
  assert.ok(refused.length >= 10, `refusals recorded: ${refused.length}`);
  // The token's jti names it in the record, never the token itself.
  assert.ok(refused.some((r) => r.credential.kind === 'oauth' && r.credential.id === decodeJwt(token).jti));
  const text = JSON.stringify(records);
  assert.ok(!text.includes(token), 'the token is in no record');
  assert.ok(!text.includes(proof.split('.')[2]!), 'the proof is in no record');
});

test('the DPoP header is not forwarded to an upstream', async () => {
  const tokens = await (async () => {
    const grant = await obtainCode(setup.issuer, { username: 'alice', resource: setup.webResource });
    return (await dpopTokenRequest(setup.issuer, key, {
      grant_type: 'authorization_code', code: grant.code, redirect_uri: REDIRECT, code_verifier: grant.pkce.verifier, client_id: grant.clientId, resource: setup.webResource,
    })).json;
  })();
  const before = setup.web.seen.length;
  const answer = await initializeWith(setup.webResource, 'DPoP', tokens.access_token, [await key.proof('POST', setup.webResource, { accessToken: tokens.access_token })]);
  assert.equal(answer.status, 200, answer.text);
  const seen = setup.web.seen.slice(before);
  assert.ok(seen.length > 0);
  assert.ok(seen.every((r) => r.headers.dpop === undefined && r.headers.authorization === undefined));
});
