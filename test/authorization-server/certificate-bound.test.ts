import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { X509Certificate, createPublicKey, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { decodeJwt } from 'jose';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../helpers/upstreams.js';
import { connectClient, freePort, INITIALIZE } from '../helpers/client.js';
import { startIdp, tempStore, type TestIdp } from '../helpers/idp.js';
import { makeCa, selfSigned, thumbprint, type IssuedCert, type TestCa } from '../helpers/certs.js';
import { addUsers, FormBrowser, PASSWORD, REDIRECT, withStore } from '../helpers/oauth.js';
import { ACTOR } from '../helpers/admin.js';
import { ClientsAdmin } from '../../src/admin/index.js';
import { configSchema } from '../../src/config/index.js';
import { codeRequest, pkcePair, rememberAs, type PkcePair } from '../helpers/oauth-flow.js';
import type { AuditRecord } from '../../src/audit/index.js';

/**
 * Issue 16 part 3: RFC 8705 at the embedded authorization server and at the resource, over real TLS with
 * certificates made here. Clients register by DCR, a user signs in through the real pages, the token
 * endpoint is called over mutual TLS (undici with a client certificate), and the tokens are used by the MCP
 * SDK client over https and by curl. Every refusal has its control: the same request done right succeeds.
 */

const run = promisify(execFile);

interface Pki {
  serverCa: TestCa; server: IssuedCert; clientCa: TestCa;
  /** Two machines of the same CA, a certificate of another CA with bot's name, two self-signed ones. */
  bot: IssuedCert; other: IssuedCert; foreign: IssuedCert; selfie: IssuedCert; selfie2: IssuedCert;
}

function makePki(): Pki {
  const serverCa = makeCa('Server CA');
  const clientCa = makeCa('Client CA');
  return {
    serverCa, clientCa,
    server: serverCa.issue('server', { server: true }),
    bot: clientCa.issue('bot', { cn: 'bot', san: 'URI:spiffe://example.org/bot' }),
    other: clientCa.issue('other', { cn: 'other', san: 'URI:spiffe://example.org/other' }),
    foreign: makeCa('Other CA').issue('foreign', { cn: 'bot', san: 'URI:spiffe://example.org/bot' }),
    selfie: selfSigned('selfie'),
    selfie2: selfSigned('selfie'),
  };
}

const AUTHORIZATION = { scopes: { 'echo:use': { tools: ['echo'] } }, roles: { writer: ['echo:use'] } };
const LIFTED = { requestsPerSecond: 1_000, burst: 10_000 };

describe('certificate-bound tokens (RFC 8705) at the embedded authorization server and the gateway', () => {
  let pki: Pki;
  let upstream: RunningHttpUpstream;
  let gw: TestGateway;
  let issuer: string;
  let resource: string;
  const agents = new Map<string, Agent>();
  let serviceId: string;
  const originalFetch = globalThis.fetch;

  /** An HTTPS client trusting the server CA, presenting `cert` when given; one per certificate. */
  const agent = (cert?: IssuedCert): Agent => {
    const key = cert?.cert ?? '-';
    if (!agents.has(key)) agents.set(key, new Agent({ connect: { ca: pki.serverCa.certPem, ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}) } }));
    return agents.get(key)!;
  };

  before(async () => {
    pki = makePki();
    upstream = await startHttpUpstream({ stateful: true, json: false });
    const dbPath = join(mkdtempSync(join(tmpdir(), 'warden-mtls-as-')), 'warden.db');
    await addUsers(dbPath, [['alice', ['writer']]]);
    const input = {
      auth: { oauth: { registration: { perIp: LIFTED }, login: { perIp: LIFTED } }, apiKeys: {} },
      store: { sqlite: dbPath },
      listen: { host: '127.0.0.1', port: 0, tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.clientCa.cert, clientCertificates: 'request' as const } },
      authorization: AUTHORIZATION,
      rateLimit: { perIp: LIFTED, failedAuthPerIp: LIFTED },
      upstreams: { web: { url: upstream.url } },
    };
    // A service client as `warden clients add --tls-san-uri spiffe://example.org/bot` makes it.
    serviceId = await withStore(dbPath, async (store) => {
      const admin = new ClientsAdmin({ store, config: configSchema.parse(input), actor: ACTOR, recorder: async () => {} });
      const { client, secret } = await admin.addService({ name: 'build bot', scopes: ['echo:use'], certificate: { property: 'tls_client_auth_san_uri', value: 'spiffe://example.org/bot' } });
      assert.equal(secret, undefined);
      return client.client_id;
    });
    gw = await startGateway(input, [PASSWORD]);
    issuer = gw.url;
    resource = `${issuer}/mcp/web`;
    // The sign-in pages and registration go through the shared helpers, which use the global fetch: it trusts
    // the test's server CA here (and presents no certificate, as a browser would not).
    globalThis.fetch = ((url: string | URL, init?: RequestInit) => undiciFetch(url, { ...(init as object), dispatcher: agent() })) as typeof fetch;
  });
  after(async () => {
    globalThis.fetch = originalFetch;
    await gw?.close();
    await upstream?.close();
    await Promise.all([...agents.values()].map((a) => a.close()));
  });

  async function register(metadata: Record<string, unknown>): Promise<{ status: number; json: any }> {
    const res = await fetch(`${issuer}/oauth/register`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [REDIRECT], client_name: 'Bound Client', ...metadata }),
    });
    return { status: res.status, json: await res.json() };
  }

  /** alice signs in through the real pages and consents: a code for the client. */
  async function codeFor(clientId: string): Promise<{ code: string; pkce: PkcePair }> {
    const pkce = pkcePair();
    const callback = await new FormBrowser(issuer).authorize(codeRequest(issuer, clientId, pkce, { scope: 'echo:use', resource }), REDIRECT, { username: 'alice' });
    const code = callback.searchParams.get('code');
    assert.ok(code, callback.href);
    rememberAs('code', code, pkce.verifier);
    return { code, pkce };
  }

  /** The token endpoint over TLS, presenting `cert` (mutual TLS) when given. */
  async function token(form: Record<string, string>, cert?: IssuedCert): Promise<{ status: number; json: any }> {
    const res = await undiciFetch(`${issuer}/oauth/token`, {
      method: 'POST', dispatcher: agent(cert),
      headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString(),
    });
    const json = await res.json() as any;
    rememberAs('token', json.access_token, json.refresh_token);
    return { status: res.status, json };
  }

  const exchange = (clientId: string, grant: { code: string; pkce: PkcePair }, cert?: IssuedCert) => token({
    grant_type: 'authorization_code', code: grant.code, code_verifier: grant.pkce.verifier, redirect_uri: REDIRECT, client_id: clientId, resource,
  }, cert);

  /** An MCP initialize with the token, over a connection presenting `cert`. */
  async function mcp(accessToken: string, cert?: IssuedCert): Promise<{ status: number; message: string; challenge: string }> {
    const res = await undiciFetch(resource, {
      method: 'POST', dispatcher: agent(cert), body: JSON.stringify(INITIALIZE),
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${accessToken}` },
    });
    const text = await res.text();
    let message = '';
    try {
      message = String(JSON.parse(text)?.error?.message ?? '');
    } catch { /* an SSE answer: accepted */ }
    return { status: res.status, message, challenge: res.headers.get('www-authenticate') ?? '' };
  }

  const authRecords = (): AuditRecord[] => gw.audit.records.filter((r) => r.event === 'authentication');
  /** The authorization server's records are written a turn of the event loop after its answer. */
  const oauthRecord = async (match: (r: AuditRecord) => boolean): Promise<AuditRecord> => {
    for (let i = 0; i < 50; i++) {
      const found = gw.audit.records.filter((r) => r.event === 'oauth').reverse().find(match);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('no such oauth record');
  };

  /** A tls_client_auth client for bot's certificate, registered by DCR (RFC 8705 §2.1), and its first tokens. */
  let tlsClient: { client_id: string; tls_client_certificate_bound_access_tokens?: boolean };
  let tlsTokens: { access_token: string; refresh_token: string; token_type: string };

  test('the metadata advertises bound tokens and both certificate methods, and no mTLS endpoint aliases (one port serves both)', async () => {
    const meta = await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json() as Record<string, unknown>;
    assert.equal(meta.tls_client_certificate_bound_access_tokens, true);
    for (const m of ['tls_client_auth', 'self_signed_tls_client_auth', 'none']) assert.ok((meta.token_endpoint_auth_methods_supported as string[]).includes(m), m);
    assert.equal(meta.mtls_endpoint_aliases, undefined);
  });

  test('a tls_client_auth client (subject DN) gets, over mutual TLS, an access token carrying cnf.x5t#S256 of its certificate', async () => {
    const reg = await register({ token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=bot' });
    assert.equal(reg.status, 201, JSON.stringify(reg.json));
    tlsClient = reg.json;
    // Bound because it authenticates with its certificate, though it did not ask.
    assert.equal(tlsClient.tls_client_certificate_bound_access_tokens, true);
    assert.equal((reg.json as { client_secret?: string }).client_secret, undefined);
    const answer = await exchange(tlsClient.client_id, await codeFor(tlsClient.client_id), pki.bot);
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    tlsTokens = answer.json;
    const claims = decodeJwt(tlsTokens.access_token);
    assert.deepEqual(claims.cnf, { 'x5t#S256': thumbprint(pki.bot) });
    assert.equal(claims.sub, 'alice');
    const issued = await oauthRecord((r) => r.method === 'oauth.token' && r.decision === 'allow' && r.clientId === tlsClient.client_id);
    assert.equal(issued.certificate, thumbprint(pki.bot));
    assert.match(issued.reason, /bound to the client certificate/);
  });

  test('a tool call with the same certificate works (MCP SDK client over https); the principal and the thumbprint are in the audit record', async () => {
    const withBot = ((url: string | URL, init?: RequestInit) => undiciFetch(url, { ...(init as object), dispatcher: agent(pki.bot) })) as never;
    const { client } = await connectClient(resource, { authorization: `Bearer ${tlsTokens.access_token}` }, withBot);
    try {
      const result = await client.callTool({ name: 'echo', arguments: { text: 'bound' } });
      assert.match(JSON.stringify(result.content), /bound/);
    } finally {
      await client.close();
    }
    const record = gw.audit.records.filter((r) => r.event === 'call' && r.method === 'tools/call').at(-1)!;
    assert.equal(record.decision, 'allow');
    assert.equal(record.subject, 'alice');
    assert.equal(record.clientId, tlsClient.client_id);
    assert.equal(record.credential.kind, 'oauth');
    assert.equal(record.certificate, thumbprint(pki.bot));
  });

  test('curl --cert with the bound certificate and the token is accepted; with the other certificate of the same CA, refused', async () => {
    const curl = (cert: IssuedCert) => run('curl', ['-sS', '--cacert', pki.serverCa.cert, '--cert', cert.cert, '--key', cert.key, '-o', '/dev/null', '-w', '%{http_code}',
      '-X', 'POST', resource, '-H', 'content-type: application/json', '-H', 'accept: application/json, text/event-stream',
      '-H', `authorization: Bearer ${tlsTokens.access_token}`, '--data', JSON.stringify(INITIALIZE)]);
    assert.equal((await curl(pki.other)).stdout, '401');
    assert.equal((await curl(pki.bot)).stdout, '200');
  });

  test('attack: the bound token presented with another certificate of the same CA is 401 invalid_token, audited with the reason; control: with its own certificate', async () => {
    const refused = await mcp(tlsTokens.access_token, pki.other);
    assert.equal(refused.status, 401);
    assert.match(refused.message, /bound to another client certificate/);
    assert.match(refused.challenge, /error="invalid_token"/);
    const record = authRecords().at(-1)!;
    assert.equal(record.decision, 'deny');
    assert.match(record.reason, /invalid_token \(certificate-bound token with another certificate\)/);
    assert.equal(record.subject, 'alice');
    assert.equal(record.credential.kind, 'oauth');
    assert.equal(record.credential.id, decodeJwt(tlsTokens.access_token).jti);
    assert.equal(record.certificate, thumbprint(pki.other));
    assert.ok(!JSON.stringify(gw.audit.records).includes(tlsTokens.access_token), 'no token in the audit records');
    assert.equal((await mcp(tlsTokens.access_token, pki.bot)).status, 200);
  });

  test('attack: the bound token presented with no certificate is 401 invalid_token, audited with the reason; control: with its certificate', async () => {
    const refused = await mcp(tlsTokens.access_token);
    assert.equal(refused.status, 401);
    assert.match(refused.message, /bound to a client certificate \(RFC 8705\)/);
    const record = authRecords().at(-1)!;
    assert.match(record.reason, /certificate-bound token without a client certificate/);
    assert.equal(record.certificate, undefined);
    assert.equal((await mcp(tlsTokens.access_token, pki.bot)).status, 200);
  });

  test('attack: the bound token with a self-signed certificate (possession proven, but not the bound one) is refused', async () => {
    const refused = await mcp(tlsTokens.access_token, pki.selfie);
    assert.equal(refused.status, 401);
    assert.match(refused.message, /bound to another client certificate/);
  });

  test('attack: the refresh token of the tls_client_auth client with another certificate is refused (client authentication fails); control: with its own', async () => {
    const stolen = await token({ grant_type: 'refresh_token', refresh_token: tlsTokens.refresh_token, client_id: tlsClient.client_id }, pki.other);
    assert.equal(stolen.status, 401);
    assert.equal(stolen.json.error, 'invalid_client');
    const none = await token({ grant_type: 'refresh_token', refresh_token: tlsTokens.refresh_token, client_id: tlsClient.client_id });
    assert.equal(none.status, 401);
    const ok = await token({ grant_type: 'refresh_token', refresh_token: tlsTokens.refresh_token, client_id: tlsClient.client_id }, pki.bot);
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.deepEqual(decodeJwt(ok.json.access_token).cnf, { 'x5t#S256': thumbprint(pki.bot) });
    tlsTokens = ok.json;
  });

  test('attack: tls_client_auth with a certificate of another CA (same subject) is refused at the token endpoint; control: the CA\'s', async () => {
    const grant = await codeFor(tlsClient.client_id);
    const foreign = await exchange(tlsClient.client_id, grant, pki.foreign);
    assert.equal(foreign.status, 401);
    assert.equal(foreign.json.error, 'invalid_client');
    const denied = await oauthRecord((r) => r.method === 'oauth.token' && r.decision === 'deny' && r.certificate === thumbprint(pki.foreign));
    assert.match(denied.reason, /invalid_client/);
    const wrongName = await exchange(tlsClient.client_id, grant, pki.other);
    assert.equal(wrongName.status, 401, 'a certificate of the CA with another subject');
    assert.equal((await exchange(tlsClient.client_id, grant, pki.bot)).status, 200);
  });

  test('a tls_client_auth client registered by SAN URI (a SPIFFE ID) authenticates with the certificate that carries it', async () => {
    const reg = await register({ token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_uri: 'spiffe://example.org/other' });
    assert.equal(reg.status, 201, JSON.stringify(reg.json));
    const grant = await codeFor(reg.json.client_id);
    assert.equal((await exchange(reg.json.client_id, grant, pki.bot)).status, 401);
    const ok = await exchange(reg.json.client_id, grant, pki.other);
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.deepEqual(decodeJwt(ok.json.access_token).cnf, { 'x5t#S256': thumbprint(pki.other) });
  });

  test('self_signed_tls_client_auth: a certificate not in the client\'s jwks is refused at the token endpoint; its own gets a bound token that calls tools', async () => {
    const jwk = { ...createPublicKey(pki.selfie.certPem).export({ format: 'jwk' }), x5c: [new X509Certificate(pki.selfie.certPem).raw.toString('base64')] };
    const reg = await register({ token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: [jwk] } });
    assert.equal(reg.status, 201, JSON.stringify(reg.json));
    assert.equal(reg.json.tls_client_certificate_bound_access_tokens, true);
    const grant = await codeFor(reg.json.client_id);
    // Same subject, another key: the thumbprint decides, not the name.
    const other = await exchange(reg.json.client_id, grant, pki.selfie2);
    assert.equal(other.status, 401);
    assert.equal(other.json.error, 'invalid_client');
    assert.equal((await exchange(reg.json.client_id, grant, pki.bot)).status, 401, 'a CA-issued certificate that is not in jwks');
    const ok = await exchange(reg.json.client_id, grant, pki.selfie);
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.deepEqual(decodeJwt(ok.json.access_token).cnf, { 'x5t#S256': thumbprint(pki.selfie) });
    // No CA issued it: it stands for the token bound to it (RFC 8705 §2.2), and for nothing else.
    assert.equal((await mcp(ok.json.access_token, pki.selfie)).status, 200);
    assert.equal(authRecords().length > 0, true);
    const other2 = await mcp(ok.json.access_token, pki.selfie2);
    assert.equal(other2.status, 401);
  });

  test('a public client that asks for bound tokens needs a certificate at the token endpoint, and its refresh token is bound to it (RFC 8705 §4)', async () => {
    const reg = await register({ token_endpoint_auth_method: 'none', tls_client_certificate_bound_access_tokens: true });
    assert.equal(reg.status, 201, JSON.stringify(reg.json));
    const id = reg.json.client_id as string;
    const grant = await codeFor(id);
    const without = await exchange(id, grant);
    assert.equal(without.status, 400);
    assert.equal(without.json.error, 'invalid_grant');
    const ok = await exchange(id, grant, pki.bot);
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.deepEqual(decodeJwt(ok.json.access_token).cnf, { 'x5t#S256': thumbprint(pki.bot) });
    const stolen = await token({ grant_type: 'refresh_token', refresh_token: ok.json.refresh_token, client_id: id }, pki.other);
    assert.equal(stolen.status, 400);
    assert.equal(stolen.json.error, 'invalid_grant');
    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: ok.json.refresh_token, client_id: id }, pki.bot);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.json));
    assert.equal((await mcp(refreshed.json.access_token, pki.bot)).status, 200);
  });

  test('a public client that does not ask gets plain bearer tokens, certificate or not (binding is its choice)', async () => {
    const reg = await register({ token_endpoint_auth_method: 'none' });
    const ok = await exchange(reg.json.client_id, await codeFor(reg.json.client_id), pki.bot);
    assert.equal(ok.status, 200);
    assert.equal(decodeJwt(ok.json.access_token).cnf, undefined);
    assert.equal((await mcp(ok.json.access_token)).status, 200);
  });

  test('introspection of a bound token shows its cnf (RFC 8705 §3.2)', async () => {
    const res = await undiciFetch(`${issuer}/oauth/introspect`, {
      method: 'POST', dispatcher: agent(pki.bot), headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tlsTokens.access_token, client_id: tlsClient.client_id }).toString(),
    });
    const json = await res.json() as Record<string, unknown>;
    assert.equal(res.status, 200, JSON.stringify(json));
    assert.equal(json.active, true);
    assert.deepEqual(json.cnf, { 'x5t#S256': thumbprint(pki.bot) });
  });

  test('a service client made with a certificate name (no secret) gets a bound client_credentials token with curl --cert; another certificate is refused', async () => {
    const curl = (cert: IssuedCert) => run('curl', ['-sS', '--cacert', pki.serverCa.cert, '--cert', cert.cert, '--key', cert.key, `${issuer}/oauth/token`,
      '--data-urlencode', 'grant_type=client_credentials', '--data-urlencode', `client_id=${serviceId}`, '--data-urlencode', `resource=${resource}`, '--data-urlencode', 'scope=echo:use']);
    const refusedAnswer = JSON.parse((await curl(pki.other)).stdout);
    assert.equal(refusedAnswer.error, 'invalid_client');
    const answer = JSON.parse((await curl(pki.bot)).stdout);
    rememberAs('token', answer.access_token);
    assert.ok(answer.access_token, JSON.stringify(answer));
    const claims = decodeJwt(answer.access_token);
    assert.deepEqual(claims.cnf, { 'x5t#S256': thumbprint(pki.bot) });
    assert.equal(claims.sub, serviceId);
    assert.equal((await mcp(answer.access_token, pki.other)).status, 401);
    assert.equal((await mcp(answer.access_token, pki.bot)).status, 200);
    const record = gw.audit.records.filter((r) => r.event === 'call').at(-1)!;
    assert.equal(record.subject, serviceId);
    assert.equal(record.certificate, thumbprint(pki.bot));
  });
});

describe('grants of company IdP assertions (ID-JAG) for a certificate-bound client', () => {
  let pki: Pki;
  let idp: TestIdp;
  let upstream: RunningHttpUpstream;
  let gw: TestGateway;
  let issuer: string;
  let resource: string;
  const agents: Agent[] = [];
  const SERVICE = 'svc_bound_agent';
  const now = () => Math.floor(Date.now() / 1000);
  const over = (cert?: IssuedCert) => {
    const a = new Agent({ connect: { ca: pki.serverCa.certPem, ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}) } });
    agents.push(a);
    return a;
  };

  before(async () => {
    pki = makePki();
    idp = await startIdp();
    upstream = await startHttpUpstream({ stateful: false, json: true });
    const port = await freePort();
    issuer = `https://127.0.0.1:${port}`;
    resource = `${issuer}/mcp/web`;
    const store = tempStore();
    // As `warden clients add --tls-san-uri spiffe://example.org/bot` stores it.
    await withStore(store.sqlite, (s) => s.oauth.upsert({
      model: 'Client', id: SERVICE, grantId: null, userCode: null, uid: null, expiresAt: null, consumedAt: null,
      payload: JSON.stringify({
        client_id: SERVICE, client_name: SERVICE, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'echo:use',
        token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_uri: 'spiffe://example.org/bot', tls_client_certificate_bound_access_tokens: true,
      }),
    }));
    gw = await startGateway({
      store,
      listen: { host: '127.0.0.1', port, tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.clientCa.cert } },
      auth: {
        oauth: { idJag: { clients: [SERVICE] } },
        jwt: { issuers: [{ issuer: idp.issuer, use: ['id-jag'], claims: { roles: 'groups' }, roles: { 'mcp-readers': ['reader'] } }] },
      },
      authorization: { scopes: { 'echo:use': { tools: ['echo'] } }, roles: { reader: ['echo:use'] } },
      upstreams: { web: { url: upstream.url } },
    });
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
    await idp?.close();
    await Promise.all(agents.map((a) => a.close()));
  });

  test('an ID-JAG presented over mutual TLS gives a token bound to the client\'s certificate, refused with another', async () => {
    const assertion = await idp.sign({
      iss: idp.issuer, sub: 'alice', aud: issuer, client_id: SERVICE, resource, scope: 'echo:use', groups: ['mcp-readers'], jti: randomUUID(), iat: now(), exp: now() + 300,
    }, { typ: 'oauth-id-jag+jwt' });
    const res = await undiciFetch(`${issuer}/oauth/token`, {
      method: 'POST', dispatcher: over(pki.bot), headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion, client_id: SERVICE }).toString(),
    });
    const json = await res.json() as { access_token: string };
    assert.equal(res.status, 200, JSON.stringify(json));
    rememberAs('token', json.access_token);
    assert.deepEqual(decodeJwt(json.access_token).cnf, { 'x5t#S256': thumbprint(pki.bot) });
    const call = async (cert: IssuedCert) => (await undiciFetch(resource, {
      method: 'POST', dispatcher: over(cert), body: JSON.stringify(INITIALIZE),
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${json.access_token}` },
    })).status;
    assert.equal(await call(pki.other), 401);
    assert.equal(await call(pki.bot), 200);
  });
});

describe('behind a TLS-terminating proxy: the certificate in auth.mtls.header, at the token endpoint and at the resource', () => {
  let pki: Pki;
  let upstream: RunningHttpUpstream;
  let gw: TestGateway;
  let issuer: string;
  let resource: string;
  const SERVICE = 'svc_proxied';
  const header = (c: IssuedCert) => ({ 'x-forwarded-client-cert': encodeURIComponent(c.certPem), 'x-forwarded-for': '203.0.113.9' });

  before(async () => {
    pki = makePki();
    upstream = await startHttpUpstream({ stateful: false, json: true });
    const store = tempStore();
    await withStore(store.sqlite, (s) => s.oauth.upsert({
      model: 'Client', id: SERVICE, grantId: null, userCode: null, uid: null, expiresAt: null, consumedAt: null,
      payload: JSON.stringify({
        client_id: SERVICE, client_name: SERVICE, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'echo:use',
        token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=bot', tls_client_certificate_bound_access_tokens: true,
      }),
    }));
    gw = await startGateway({
      store,
      http: { trustProxy: 1 },
      auth: { oauth: {}, mtls: { principal: 'san-uri', roles: {}, header: 'X-Forwarded-Client-Cert', ca: pki.clientCa.cert } },
      authorization: AUTHORIZATION,
      upstreams: { web: { url: upstream.url } },
    });
    issuer = gw.url;
    resource = `${issuer}/mcp/web`;
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  const token = async (headers: Record<string, string>) => {
    const res = await fetch(`${issuer}/oauth/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: SERVICE, resource, scope: 'echo:use' }).toString(),
    });
    const json = await res.json() as { access_token?: string; error?: string };
    rememberAs('token', json.access_token);
    return { status: res.status, json };
  };
  const mcp = async (accessToken: string, headers: Record<string, string>) => (await fetch(resource, {
    method: 'POST', body: JSON.stringify(INITIALIZE),
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${accessToken}`, ...headers },
  })).status;

  test('the metadata offers tls_client_auth only: a header cannot prove that the caller holds a self-signed certificate\'s key', async () => {
    const meta = await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json() as { token_endpoint_auth_methods_supported: string[] };
    assert.ok(meta.token_endpoint_auth_methods_supported.includes('tls_client_auth'));
    assert.ok(!meta.token_endpoint_auth_methods_supported.includes('self_signed_tls_client_auth'));
  });

  test('attack: a header certificate of another CA (same subject), or none, does not authenticate the client; control: the CA\'s gets a bound token that works with the same header only', async () => {
    assert.equal((await token(header(pki.foreign))).json.error, 'invalid_client');
    assert.equal((await token({ 'x-forwarded-for': '203.0.113.9' })).json.error, 'invalid_client');
    const ok = await token(header(pki.bot));
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.deepEqual(decodeJwt(ok.json.access_token!).cnf, { 'x5t#S256': thumbprint(pki.bot) });
    assert.equal(await mcp(ok.json.access_token!, header(pki.other)), 401);
    assert.equal(await mcp(ok.json.access_token!, { 'x-forwarded-for': '203.0.113.9' }), 401);
    assert.equal(await mcp(ok.json.access_token!, header(pki.bot)), 200);
  });
});

describe('auth.oauth.mtls: false', () => {
  let pki: Pki;
  let upstream: RunningHttpUpstream;
  let gw: TestGateway;
  let dispatcher: Agent;

  before(async () => {
    pki = makePki();
    upstream = await startHttpUpstream({ stateful: false, json: true });
    gw = await startGateway({
      store: tempStore(),
      listen: { host: '127.0.0.1', port: 0, tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.clientCa.cert } },
      auth: { oauth: { mtls: false } },
      authorization: AUTHORIZATION,
      upstreams: { web: { url: upstream.url } },
    });
    dispatcher = new Agent({ connect: { ca: pki.serverCa.certPem, cert: pki.bot.certPem, key: pki.bot.keyPem } });
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
    await dispatcher?.close();
  });

  test('turns RFC 8705 off at the authorization server: nothing advertised, certificate clients not registered; a public client still is', async () => {
    const meta = await (await undiciFetch(`${gw.url}/.well-known/oauth-authorization-server`, { dispatcher })).json() as Record<string, unknown>;
    assert.equal(meta.tls_client_certificate_bound_access_tokens, undefined);
    assert.ok(!(meta.token_endpoint_auth_methods_supported as string[]).includes('tls_client_auth'));
    const register = (metadata: Record<string, unknown>) => undiciFetch(`${gw.url}/oauth/register`, {
      method: 'POST', dispatcher, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: [REDIRECT], ...metadata }),
    });
    const refused = await register({ token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=bot' });
    assert.equal(refused.status, 400);
    assert.equal(((await refused.json()) as { error: string }).error, 'invalid_client_metadata');
    assert.equal((await register({ token_endpoint_auth_method: 'none' })).status, 201);
  });
});
