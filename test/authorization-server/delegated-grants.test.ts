import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../helpers/upstreams.js';
import { callTool, freePort } from '../helpers/client.js';
import { basicAuth, remember, seenSecrets, tokenRequest } from '../helpers/oauth-flow.js';
import { withStore } from '../helpers/store.js';
import { IDP_APP, IDP_SERVICE, startIdp, tempStore, type TestIdp } from '../helpers/idp.js';
import { generateClientSecret, hashClientSecret } from '../../src/authorization-server/client-secrets.js';
import type { AuditRecord } from '../../src/audit/index.js';
import { DpopKey, initializeWith } from '../helpers/dpop.js';

/**
 * Parts 3 and 4 of issue 15 at the embedded authorization server: RFC 8693 token exchange and the ID-JAG
 * jwt-bearer grant, from a real company IdP (oidc-provider over HTTP) to a tool call, with the actor in the
 * audit records; each refusal named, audited, and followed by a grant that still works.
 */

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';

const AGENT = { id: 'svc_agent', secret: generateClientSecret() };
const STRANGER = { id: 'svc_stranger', secret: generateClientSecret() };

async function addServiceClient(dbPath: string, client: { id: string; secret: string }): Promise<void> {
  await withStore(dbPath, (store) => store.oauth.upsert({
    model: 'Client', id: client.id,
    payload: JSON.stringify({
      client_id: client.id, client_secret: hashClientSecret(client.secret), client_name: client.id, grant_types: ['client_credentials'],
      response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic', scope: 'echo:use',
    }),
    grantId: null, userCode: null, uid: null, expiresAt: null, consumedAt: null,
  }));
}

describe('token exchange and ID-JAG at the embedded authorization server', () => {
  let idp: TestIdp;
  let web: RunningHttpUpstream;
  let gw: TestGateway;
  let issuer: string;
  let resource: string;

  before(async () => {
    idp = await startIdp();
    idp.groups.set('alice', ['mcp-readers']);
    idp.groups.set(IDP_SERVICE.id, ['agents']);
    web = await startHttpUpstream({ stateful: false, json: true });
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    const store = tempStore();
    await addServiceClient(store.sqlite, AGENT);
    await addServiceClient(store.sqlite, STRANGER);
    remember(AGENT.secret, STRANGER.secret);
    gw = await startGateway({
      listen: { host: '127.0.0.1', port },
      store,
      auth: {
        oauth: { tokenExchange: { clients: [AGENT.id] }, idJag: { clients: [AGENT.id] } },
        jwt: {
          issuers: [{
            issuer: idp.issuer, use: ['token-exchange', 'id-jag'], claims: { roles: 'groups', tenant: 'tid' }, roles: { 'mcp-readers': ['reader'] },
            // Subject tokens: IdP access tokens for the gateway, and ID tokens of the app registered at the IdP.
            audiences: [issuer, IDP_APP.id],
          }],
        },
      },
      authorization: { scopes: { 'echo:use': { upstreams: ['web'], tools: ['echo'] }, 'echo:admin': { upstreams: ['web'], tools: ['secret_tool'] } }, roles: { reader: ['echo:use'], admin: ['echo:admin'] } },
      upstreams: { web: { url: web.url } },
    });
    resource = `${gw.url}/mcp/web`;
  });
  after(async () => {
    await gw.close();
    await web.close();
    await idp.close();
  });

  const exchange = (form: Record<string, string>, client = AGENT) => tokenRequest(issuer, { grant_type: TOKEN_EXCHANGE, ...form }, basicAuth(client.id, client.secret));
  const aliceAccessToken = async (audience = issuer) => (await idp.codeFlow('alice', { resource: audience, scope: 'openid groups' })).access_token;

  const now = () => Math.floor(Date.now() / 1000);
  const idJag = (overrides: Record<string, unknown> = {}, header: Record<string, unknown> = { typ: 'oauth-id-jag+jwt' }) => {
    const claims: Record<string, unknown> = { iss: idp.issuer, sub: 'alice', aud: issuer, client_id: AGENT.id, resource, scope: 'echo:use', groups: ['mcp-readers'], tid: 'acme', jti: randomUUID(), iat: now(), exp: now() + 300 };
    for (const [k, v] of Object.entries(overrides)) if (v === undefined) delete claims[k]; else claims[k] = v;
    return idp.sign(claims, header);
  };
  const presentIdJag = (assertion: string, client = AGENT) => tokenRequest(issuer, { grant_type: JWT_BEARER, assertion }, basicAuth(client.id, client.secret));

  const oauthRecords = (from: number): AuditRecord[] => gw.audit.records.slice(from).filter((r) => r.event === 'oauth' && r.method === 'oauth.token');

  /** Refused with `error`, the refusal in the audit log, and a legitimate exchange right after ends in a tool call. */
  async function assertRefused(answer: Promise<{ status: number; json: any }>, error: string, description: RegExp): Promise<void> {
    const from = gw.audit.records.length;
    const res = await answer;
    assert.equal(res.status, error === 'invalid_client' ? 401 : 400, JSON.stringify(res.json));
    assert.equal(res.json.error, error);
    assert.match(String(res.json.error_description), description);
    await new Promise((r) => setTimeout(r, 50));
    const record = oauthRecords(from).find((r) => r.decision === 'deny');
    assert.ok(record, 'the refusal is audited');
    const ok = await exchange({ subject_token: await aliceAccessToken(), subject_token_type: ACCESS_TOKEN, resource });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.equal((await callTool(resource, ok.json.access_token, 'echo', { text: 'still' })).status, 200);
  }

  test('token exchange: an IdP access token plus an agent\'s actor token → a gateway token for one upstream → a tool call, act in the audit', async () => {
    const from = gw.audit.records.length;
    const subject = await aliceAccessToken();
    const actor = await idp.serviceToken(issuer);
    const res = await exchange({ subject_token: subject, subject_token_type: ACCESS_TOKEN, actor_token: actor, actor_token_type: ACCESS_TOKEN, resource });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    remember(res.json.access_token);
    assert.equal(res.json.issued_token_type, ACCESS_TOKEN);
    assert.equal(res.json.scope, 'echo:use', "the upstream's scopes that the mapped roles grant");
    const claims = decodeJwt(res.json.access_token);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.aud, resource);
    assert.equal(claims.sub_iss, idp.issuer);
    assert.equal(claims.tenant, 'acme');
    assert.deepEqual(claims.act, { sub: IDP_SERVICE.id, iss: idp.issuer, client_id: IDP_SERVICE.id });
    assert.ok((claims.exp as number) <= (decodeJwt(subject).exp as number), 'never outlives the subject token');

    const call = await callTool(resource, res.json.access_token, 'echo', { text: 'exchanged' });
    assert.equal(call.status, 200, call.text);
    assert.equal(call.json.result.content[0].text, 'exchanged');
    await new Promise((r) => setTimeout(r, 50));
    const issued = oauthRecords(from).find((r) => r.decision === 'allow');
    assert.equal(issued?.subject, 'alice');
    assert.equal(issued?.actor, IDP_SERVICE.id);
    const called = gw.audit.records.slice(from).find((r) => r.event === 'call' && r.method === 'tools/call');
    assert.equal(called?.subject, 'alice');
    assert.equal(called?.actor, IDP_SERVICE.id);
    // Bound to that upstream and its scope: another tool is 403.
    assert.equal((await callTool(resource, res.json.access_token, 'secret_tool')).status, 403);
  });

  test('token exchange with a DPoP proof (RFC 9449): the token is bound to the key; it works with that key\'s proofs, not as Bearer, not with another key', async () => {
    const key = await DpopKey.create();
    const form = { grant_type: TOKEN_EXCHANGE, subject_token: await aliceAccessToken(), subject_token_type: ACCESS_TOKEN, resource };
    const res = await tokenRequest(issuer, form, { ...basicAuth(AGENT.id, AGENT.secret), dpop: await key.proof('POST', `${issuer}/oauth/token`) });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    remember(res.json.access_token);
    assert.equal(res.json.token_type, 'DPoP');
    const token = res.json.access_token as string;
    assert.deepEqual(decodeJwt(token).cnf, { jkt: key.thumbprint });
    const proof = (k: DpopKey) => k.proof('POST', resource, { accessToken: token });
    assert.equal((await initializeWith(resource, 'DPoP', token, [await proof(key)])).status, 200, 'with a proof by its key');
    assert.equal((await initializeWith(resource, 'Bearer', token, [])).status, 401, 'a stolen bound token used as Bearer');
    assert.equal((await initializeWith(resource, 'DPoP', token, [await proof(await DpopKey.create())])).status, 401, 'with a proof by another key');
    // A replayed token-request proof is refused (oidc-provider's replay check, per client).
    const replayedProof = await key.proof('POST', `${issuer}/oauth/token`);
    assert.equal((await tokenRequest(issuer, { ...form, subject_token: await aliceAccessToken() }, { ...basicAuth(AGENT.id, AGENT.secret), dpop: replayedProof })).status, 200);
    const replay = await tokenRequest(issuer, { ...form, subject_token: await aliceAccessToken() }, { ...basicAuth(AGENT.id, AGENT.secret), dpop: replayedProof });
    assert.equal(replay.status, 400, JSON.stringify(replay.json));
    assert.equal(replay.json.error, 'invalid_grant', 'oidc-provider keeps the reason (replay) out of the answer');
  });

  test('token exchange with an IdP ID token as subject_token, audience naming the upstream', async () => {
    const { id_token } = await idp.codeFlow('alice');
    const res = await exchange({ subject_token: id_token, subject_token_type: ID_TOKEN, audience: 'web' });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal((await callTool(resource, res.json.access_token, 'echo', { text: 'x' })).status, 200);
  });

  test('refused: a subject token for another audience', async () => {
    await assertRefused(exchange({ subject_token: await aliceAccessToken('https://elsewhere.example/api'), subject_token_type: ACCESS_TOKEN, resource }), 'invalid_grant', /subject_token: .*another audience/);
  });

  test('refused: an exchange by a client not allowed to, and by a public client', async () => {
    await assertRefused(exchange({ subject_token: await aliceAccessToken(), subject_token_type: ACCESS_TOKEN, resource }, STRANGER), 'invalid_request', /not allowed/);
    const pub = tokenRequest(issuer, { grant_type: TOKEN_EXCHANGE, client_id: AGENT.id, subject_token: await aliceAccessToken(), subject_token_type: ACCESS_TOKEN, resource });
    await assertRefused(pub, 'invalid_client', /.+/);
  });

  test('refused: a subject whose roles grant no scope of the upstream', async () => {
    const from = gw.audit.records.length;
    idp.groups.set('bob', ['mcp-readers']);
    const token = (await idp.codeFlow('bob', { resource: issuer, scope: 'openid groups' })).access_token;
    await assertRefused(exchange({ subject_token: token, subject_token_type: ACCESS_TOKEN, resource, scope: 'echo:admin' }), 'invalid_scope', /grant none of the requested scopes/);
    assert.ok(gw.audit.records.length > from);
  });

  test('ID-JAG: jwt-bearer with an ID-JAG from the IdP → a gateway token → a tool call, as the user', async () => {
    const res = await presentIdJag(await idJag());
    assert.equal(res.status, 200, JSON.stringify(res.json));
    remember(res.json.access_token);
    assert.equal(res.json.refresh_token, undefined, 'no refresh token: the IdP decides again next time');
    const claims = decodeJwt(res.json.access_token);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.client_id, AGENT.id);
    const call = await callTool(resource, res.json.access_token, 'echo', { text: 'jag' });
    assert.equal(call.status, 200, call.text);
  });

  test('ID-JAG refused: replayed (jti), expired, issued to another client, wrong typ, wrong audience', async () => {
    const once = await idJag();
    assert.equal((await presentIdJag(once)).status, 200);
    await assertRefused(presentIdJag(once), 'invalid_grant', /already used/);
    await assertRefused(presentIdJag(await idJag({ iat: now() - 900, exp: now() - 600 })), 'invalid_grant', /expired/);
    await assertRefused(presentIdJag(await idJag({ client_id: 'someone-else' })), 'invalid_grant', /another client/);
    await assertRefused(presentIdJag(await idJag({}, { typ: 'at+jwt' })), 'invalid_grant', /typ/);
    await assertRefused(presentIdJag(await idJag({ aud: 'https://other-as.example' })), 'invalid_grant', /another audience/);
    await assertRefused(presentIdJag(await idJag(), STRANGER), 'invalid_request', /not allowed/);
    // The ID-JAG's scope is a ceiling: asking for a scope it does not name gets nothing.
    await assertRefused(tokenRequest(issuer, { grant_type: JWT_BEARER, assertion: await idJag({ scope: 'echo:use' }), scope: 'echo:admin' }, basicAuth(AGENT.id, AGENT.secret)), 'invalid_scope', /does not grant the requested scope/);
  });

  test('no token, assertion or secret reached the log or the audit records', () => {
    const text = `${gw.logs.text}\n${JSON.stringify(gw.audit.records)}`;
    for (const secret of seenSecrets) assert.ok(!text.includes(secret), 'a secret leaked');
  });
});
