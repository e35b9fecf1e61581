import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../helpers/upstreams.js';
import { callTool, getJson, initialize } from '../helpers/client.js';
import { hmacJwt, publicKeyAsSecrets, unsecuredJwt } from '../helpers/jwt-forgery.js';
import { seenSecrets } from '../helpers/oauth-flow.js';
import { IDP_INTROSPECTOR, IDP_SERVICE, startIdp, tempStore, unpublishedKey, type TestIdp } from '../helpers/idp.js';
import type { ConfigInput } from '../../src/config/index.js';
import { DpopKey, initializeWith } from '../helpers/dpop.js';
import { decodeJwt } from 'jose';

/**
 * Part 1 of issue 15: a company IdP's tokens at the resource. The IdP is a real oidc-provider over HTTP
 * (discovery, JWKS, client credentials, the code flow, introspection); every refusal is named, audited, and
 * followed by a legitimate call that still works.
 */

const AUTHORIZATION: ConfigInput['authorization'] = {
  scopes: { 'echo:use': { tools: ['echo'] } },
  roles: { reader: ['echo:use'] },
};

function idpAuth(idp: TestIdp, extra: Record<string, unknown> = {}): ConfigInput['auth'] {
  return {
    jwt: {
      issuers: [{
        issuer: idp.issuer, claims: { roles: 'groups', tenant: 'tid' }, roles: { 'mcp-readers': ['reader'] }, jwksCooldown: '3s',
        introspection: { clientId: IDP_INTROSPECTOR.id, clientSecret: IDP_INTROSPECTOR.secret, cacheTtl: '5s' }, ...extra,
      }],
    },
  };
}

const now = () => Math.floor(Date.now() / 1000);
/** The JWKS refetch cooldown of these tests: long enough that two requests in a row on a busy machine fall within it. */
const COOLDOWN_MS = 3_000;

describe('IdP access tokens at the resource', () => {
  let idp: TestIdp;
  let other: TestIdp;
  let web: RunningHttpUpstream;
  let gw: TestGateway;
  let resource: string;

  before(async () => {
    idp = await startIdp();
    other = await startIdp();
    idp.groups.set(IDP_SERVICE.id, ['mcp-readers']);
    other.groups.set(IDP_SERVICE.id, ['mcp-readers']);
    web = await startHttpUpstream({ stateful: false, json: true });
    gw = await startGateway({ scenario: 'enterprise', store: tempStore(), auth: idpAuth(idp), authorization: AUTHORIZATION, upstreams: { web: { url: web.url } } });
    resource = `${gw.url}/mcp/web`;
  });
  after(async () => {
    await gw.close();
    await web.close();
    await idp.close();
    await other.close();
  });

  /** Claims as the IdP's own access tokens carry them, for this resource; `overrides` replace (undefined deletes). */
  const claims = (overrides: Record<string, unknown> = {}) => {
    const c: Record<string, unknown> = { iss: idp.issuer, sub: 'alice', aud: resource, iat: now(), exp: now() + 300, jti: randomUUID(), groups: ['mcp-readers'], tid: 'acme', client_id: IDP_SERVICE.id };
    for (const [k, v] of Object.entries(overrides)) if (v === undefined) delete c[k]; else c[k] = v;
    return c;
  };

  const echo = async (token: string) => callTool(resource, token, 'echo', { text: 'hi' });

  async function assertRefused(token: string, message: RegExp): Promise<void> {
    const before = gw.audit.records.length;
    const res = await initialize(resource, token);
    assert.equal(res.status, 401, res.text);
    assert.match(String(res.json?.error?.message), message);
    assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token".*resource_metadata=/);
    const record = gw.audit.records.slice(before).find((r) => r.event === 'authentication');
    assert.ok(record, 'the refusal is audited');
    assert.equal(record.decision, 'deny');
    assert.equal(record.credential.kind, 'jwt');
    // The control: a real IdP token still works right after.
    const ok = await echo(await idp.serviceToken(resource));
    assert.equal(ok.status, 200, ok.text);
  }

  test('a valid IdP access token at its audience calls a tool; the principal carries subject, tenant, roles and issuer', async () => {
    const token = await idp.serviceToken(resource);
    const res = await echo(token);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.result.content[0].text, 'hi');
    const record = gw.audit.records.find((r) => r.event === 'call' && r.method === 'tools/call' && r.decision === 'allow');
    assert.ok(record);
    assert.equal(record.subject, IDP_SERVICE.id);
    assert.equal(record.tenant, 'acme');
    assert.equal(record.credential.kind, 'jwt');
  });

  test('refused: wrong iss (the IdP key, another issuer named)', async () => {
    await assertRefused(await idp.sign(claims({ iss: `${idp.issuer}/other` })), /issuer this gateway does not trust/);
  });

  test('refused: wrong aud (a real IdP token for another resource)', async () => {
    await assertRefused(await idp.serviceToken('https://elsewhere.example/api'), /another audience/);
  });

  test('refused: expired', async () => {
    await assertRefused(await idp.sign(claims({ iat: now() - 3600, exp: now() - 600 })), /expired/);
  });

  test('refused: nbf in the future', async () => {
    await assertRefused(await idp.sign(claims({ nbf: now() + 3600 })), /not valid yet/);
  });

  test('refused: alg none', async () => {
    await assertRefused(unsecuredJwt(claims(), { kid: idp.keys[0]!.kid }), /not (valid|accept)/);
  });

  test('refused: HS256 keyed with the IdP public key, in every form', async () => {
    for (const { name, secret } of publicKeyAsSecrets(idp.keys[0]!.publicJwk)) {
      await assertRefused(hmacJwt(claims(), { kid: idp.keys[0]!.kid }, secret), /algorithm/).catch((err) => {
        throw new Error(`${name}: ${(err as Error).message}`);
      });
    }
  });

  test('refused: unknown kid, after exactly one refetch of the JWKS (and none for a second try within the cooldown)', async () => {
    await new Promise((r) => setTimeout(r, COOLDOWN_MS + 100));
    const [stranger, another] = [await idp.sign(claims(), {}, await unpublishedKey()), await idp.sign(claims(), {}, await unpublishedKey())];
    const fetches = idp.jwksFetches();
    const first = await initialize(resource, stranger);
    assert.equal(idp.jwksFetches(), fetches + 1, 'one refetch for a kid the cache lacks');
    const second = await initialize(resource, another);
    assert.equal(idp.jwksFetches(), fetches + 1, 'no refetch within the cooldown');
    for (const res of [first, second]) assert.match(String(res.json?.error?.message), /key its IdP does not publish/);
    await assertRefused(stranger, /key its IdP does not publish/);
  });

  test('refused: a real token from an issuer not configured', async () => {
    await assertRefused(await other.serviceToken(resource), /issuer this gateway does not trust/);
  });

  test('refused: a real ID token used as an access token', async () => {
    idp.groups.set('carol', ['mcp-readers']);
    const { id_token } = await idp.codeFlow('carol');
    await assertRefused(id_token, /ID token/);
  });

  test('refused: a real token whose roles map to nothing', async () => {
    idp.groups.set(IDP_SERVICE.id, ['marketing']);
    const token = await idp.serviceToken(resource).finally(() => idp.groups.set(IDP_SERVICE.id, ['mcp-readers']));
    await assertRefused(token, /maps to a warden role/);
  });

  test('refused: a JWT typed as something else than an access token', async () => {
    await assertRefused(await idp.sign(claims(), { typ: 'oauth-id-jag+jwt' }), /type/);
  });

  test('a DPoP-bound IdP token (RFC 9449 cnf.jkt) works with a proof by its key, and is refused as Bearer, with another key\'s proof or a replayed one', async () => {
    const key = await DpopKey.create();
    // Issued by the real IdP: its token endpoint checked the proof and bound the token to the key.
    const token = await idp.serviceToken(resource, await key.proof('POST', `${idp.issuer}/token`));
    assert.deepEqual(decodeJwt(token).cnf, { jkt: key.thumbprint });
    const proof = await key.proof('POST', resource, { accessToken: token });
    assert.equal((await initializeWith(resource, 'DPoP', token, [proof])).status, 200, 'with a proof by its key');
    assert.equal((await initializeWith(resource, 'DPoP', token, [proof])).status, 401, 'the same proof again (jti replay)');
    const asBearer = await initializeWith(resource, 'Bearer', token, []);
    assert.equal(asBearer.status, 401, 'the bound token as Bearer');
    // Without an embedded AS, the challenge still offers DPoP (RFC 9449 §7.1), beside Bearer for unbound IdP tokens.
    assert.match(asBearer.headers.get('www-authenticate') ?? '', /^Bearer realm="mcp".*, DPoP realm="mcp", algs="ES256 /);
    const stranger = await DpopKey.create();
    assert.equal((await initializeWith(resource, 'DPoP', token, [await stranger.proof('POST', resource, { accessToken: token })])).status, 401, 'a proof by another key');
    assert.equal((await initializeWith(resource, 'DPoP', token, [await key.proof('POST', `${resource}/other`, { accessToken: token })])).status, 401, 'a proof for another URL');
    // A bearer IdP token is still a bearer token: not accepted as DPoP, accepted as Bearer.
    const bearer = await idp.serviceToken(resource);
    assert.equal((await initializeWith(resource, 'DPoP', bearer, [await key.proof('POST', resource, { accessToken: bearer })])).status, 401);
    assert.equal((await echo(bearer)).status, 200, 'control: a bearer IdP token as before');
  });

  test('opaque IdP tokens are checked by introspection; an inactive one is refused', async () => {
    idp.format = 'opaque';
    try {
      const token = await idp.serviceToken(resource);
      assert.doesNotMatch(token, /\./);
      const res = await echo(token);
      assert.equal(res.status, 200, res.text);
      await assertRefused(`not-a-token-${randomUUID()}`, /not active/);
    } finally {
      idp.format = 'jwt';
    }
  });

  test('the PRM lists the IdP as an authorization server, and the DPoP algorithms', async () => {
    const prm = await getJson(`${gw.url}/.well-known/oauth-protected-resource/mcp/web`);
    assert.deepEqual(prm.authorization_servers, [idp.issuer]);
    // RFC 9728 §2: the algorithms of the DPoP proofs it takes for cnf.jkt-bound IdP tokens; bearer tokens stay allowed.
    assert.ok((prm.dpop_signing_alg_values_supported as string[]).includes('ES256'));
    assert.notEqual(prm.dpop_bound_access_tokens_required, true);
  });

  test('JWKS rotation at the IdP is picked up without a restart', async () => {
    await idp.rotate({ dropOld: true });
    await new Promise((r) => setTimeout(r, COOLDOWN_MS + 100));
    const res = await echo(await idp.serviceToken(resource));
    assert.equal(res.status, 200, res.text);
  });

  test('the IdP down: cached keys keep working, a new kid fails closed, /readyz says why', async () => {
    const ready = await getJson(`${gw.url}/readyz`);
    assert.equal(ready.issuers[0].state, 'ok');
    const known = idp.keys[0]!;
    const signed = await idp.sign(claims());
    const newKid = await idp.rotate();
    const unknown = await idp.sign(claims(), {}, newKid);
    await idp.stop();
    try {
      await new Promise((r) => setTimeout(r, COOLDOWN_MS + 100));
      const ok = await echo(signed);
      assert.equal(ok.status, 200, ok.text);
      const res = await initialize(resource, unknown);
      assert.equal(res.status, 401);
      assert.match(String(res.json?.error?.message), /could not be fetched/);
      const detail = await getJson(`${gw.url}/readyz`);
      assert.equal(detail.status, 'ready');
      assert.equal(detail.issuers[0].state, 'unreachable');
      assert.match(detail.issuers[0].error, /ECONNREFUSED|fetch failed|refused/i);
      // Still serving: the token signed with the known key works once more.
      assert.equal((await echo(await idp.sign(claims(), {}, known))).status, 200);
    } finally {
      await idp.start();
    }
  });

  test('no token, code or secret reached the log or the audit records', () => {
    const text = `${gw.logs.text}\n${JSON.stringify(gw.audit.records)}`;
    for (const secret of [...seenSecrets, IDP_INTROSPECTOR.secret]) assert.ok(!text.includes(secret), 'a secret leaked');
  });
});
