import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { certificateConfirmation, checkCertificateBinding } from '../../src/resource/certificate-binding.js';
import { certificateOf, subjectMatches } from '../../src/authorization-server/mtls.js';
import type { IncomingMessage } from 'node:http';
import { AuthenticationError } from '../../src/resource/errors.js';
import type { Principal } from '../../src/shared/principal.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../helpers/upstreams.js';
import { INITIALIZE } from '../helpers/client.js';
import { makeCa, thumbprint, type IssuedCert, type TestCa } from '../helpers/certs.js';
import { IDP_SERVICE, startIdp, tempStore, type TestIdp } from '../helpers/idp.js';

const X5T = 'A'.repeat(43);
const refused = (pattern: RegExp) => (err: unknown) => err instanceof AuthenticationError && err.error === 'invalid_token' && pattern.test(err.message);
const principal = (extra: Partial<Principal> = {}): Principal => ({ subject: 'alice', credential: { kind: 'oauth', id: 'jti-1' }, scopes: [], roles: [], ...extra });

describe('cnf claims', () => {
  test('no cnf is a bearer token; cnf.x5t#S256 is a certificate binding', () => {
    assert.equal(certificateConfirmation(undefined), undefined);
    assert.deepEqual(certificateConfirmation({ 'x5t#S256': X5T }), { x5t: X5T });
  });

  test('attack: a cnf this gateway cannot check (DPoP jkt where no DPoP verifier runs, unknown, malformed) is refused, never taken as a bearer token', () => {
    assert.throws(() => certificateConfirmation({ jkt: 'abc' }), refused(/cnf jkt\) are not accepted here yet/));
    assert.throws(() => certificateConfirmation({ 'x5t#S256': X5T, jkt: 'abc' }), refused(/not accepted here yet/));
    assert.throws(() => certificateConfirmation({ 'x5t#S256': X5T, made_up: 'abc' }, undefined, { dpop: true }), refused(/cnf made_up\) are not accepted here yet/));
    assert.throws(() => certificateConfirmation({}), refused(/names no confirmation method/));
    assert.throws(() => certificateConfirmation({ 'x5t#S256': 'short' }), refused(/not a SHA-256 certificate thumbprint/));
    assert.throws(() => certificateConfirmation({ 'x5t#S256': 42 }), refused(/not a SHA-256/));
    assert.throws(() => certificateConfirmation('x5t'), refused(/cnf claim is not an object/));
    assert.throws(() => certificateConfirmation([X5T]), refused(/cnf claim is not an object/));
    assert.throws(() => certificateConfirmation(null), refused(/cnf claim is not an object/));
  });

  test('with a DPoP verifier running, jkt is left to it: the certificate part is what is returned', () => {
    assert.equal(certificateConfirmation({ jkt: 'abc' }, undefined, { dpop: true }), undefined);
    assert.deepEqual(certificateConfirmation({ 'x5t#S256': X5T, jkt: 'abc' }, undefined, { dpop: true }), { x5t: X5T });
  });
});

describe('the binding check', () => {
  test('an unbound principal passes with or without a certificate', () => {
    assert.ok(checkCertificateBinding(principal()));
    assert.ok(checkCertificateBinding(principal({ certificate: X5T })));
  });

  test('a bound principal passes with its certificate only; the refusal says why and names the certificate, never the token', () => {
    assert.ok(checkCertificateBinding(principal({ confirmation: { x5t: X5T }, certificate: X5T })));
    assert.throws(() => checkCertificateBinding(principal({ confirmation: { x5t: X5T } })), (err: AuthenticationError) => {
      assert.ok(refused(/bound to a client certificate/)(err));
      assert.deepEqual(err.detail, { reason: 'certificate-bound token without a client certificate', subject: 'alice' });
      assert.equal(err.credentialId, 'jti-1');
      assert.equal(err.credentialKind, 'oauth');
      return true;
    });
    const other = 'B'.repeat(43);
    assert.throws(() => checkCertificateBinding(principal({ confirmation: { x5t: X5T }, certificate: other })), (err: AuthenticationError) => {
      assert.ok(refused(/bound to another client certificate/)(err));
      assert.deepEqual(err.detail, { reason: 'certificate-bound token with another certificate', subject: 'alice', certificate: other });
      return true;
    });
  });
});

describe('tls_client_auth subject values (RFC 8705 §2.1.2) against a real certificate', () => {
  let cert: X509Certificate;
  before(() => {
    const dir = mkdtempSync(join(tmpdir(), 'warden-dn-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'),
      '-days', '1', '-subj', '/C=DE/O=Example, Inc./OU=Build/CN=bot',
      '-addext', 'subjectAltName=DNS:Bot.Example.org,IP:2001:db8:0:0:0:0:0:1,IP:10.0.0.7,email:bot@example.org,URI:spiffe://example.org/bot'], { stdio: 'ignore' });
    cert = new X509Certificate(readFileSync(join(dir, 'c.pem')));
  });

  test('subject DN: RFC 4514 order and escapes, attribute names without case; another order or value does not match', () => {
    assert.ok(subjectMatches(cert, 'tls_client_auth_subject_dn', 'CN=bot,OU=Build,O=Example\\, Inc.,C=DE'));
    assert.ok(subjectMatches(cert, 'tls_client_auth_subject_dn', 'cn=bot, ou=Build, o=Example\\2C Inc., c=DE'));
    assert.ok(!subjectMatches(cert, 'tls_client_auth_subject_dn', 'C=DE,O=Example\\, Inc.,OU=Build,CN=bot'), 'certificate order is not RFC 4514 order');
    assert.ok(!subjectMatches(cert, 'tls_client_auth_subject_dn', 'CN=bot'), 'a part of the DN');
    assert.ok(!subjectMatches(cert, 'tls_client_auth_subject_dn', 'CN=Bot,OU=Build,O=Example\\, Inc.,C=DE'), 'values are exact');
  });

  test('SANs: DNS without case, IP in any notation, email and URI exactly; another property never matches', () => {
    assert.ok(subjectMatches(cert, 'tls_client_auth_san_dns', 'bot.example.org'));
    assert.ok(!subjectMatches(cert, 'tls_client_auth_san_dns', 'example.org'));
    assert.ok(subjectMatches(cert, 'tls_client_auth_san_ip', '2001:db8::1'));
    assert.ok(subjectMatches(cert, 'tls_client_auth_san_ip', '10.0.0.7'));
    assert.ok(!subjectMatches(cert, 'tls_client_auth_san_ip', '10.0.0.8'));
    assert.ok(subjectMatches(cert, 'tls_client_auth_san_email', 'bot@example.org'));
    assert.ok(subjectMatches(cert, 'tls_client_auth_san_uri', 'spiffe://example.org/bot'));
    assert.ok(!subjectMatches(cert, 'tls_client_auth_san_uri', 'spiffe://example.org/bo'));
    assert.ok(!subjectMatches(cert, 'tls_client_auth_unknown', 'bot'));
  });
});

describe('which certificate the authorization server takes as proven (certificateOf)', () => {
  const ca = makeCa('Client CA');
  const issued = new X509Certificate(ca.issue('bot', { cn: 'bot' }).certPem);
  const expired = new X509Certificate(ca.issue('old', { cn: 'bot', expired: true }).certPem);
  const foreign = new X509Certificate(makeCa('Other CA').issue('bot', { cn: 'bot' }).certPem);
  const sources = { trustProxy: 1, header: { name: 'X-Client-Cert', cas: [new X509Certificate(ca.certPem)] } };
  const peer = (cert: X509Certificate, authorizationError?: string, headers: Record<string, string> = {}) => ({
    headers, socket: { encrypted: true, getPeerX509Certificate: () => cert, authorized: authorizationError === undefined, authorizationError },
  }) as unknown as IncomingMessage;
  const viaHeader = (cert: X509Certificate) => ({ headers: { 'x-client-cert': encodeURIComponent(cert.toString()) }, socket: {} }) as unknown as IncomingMessage;

  test('the TLS peer: verified, or refused only for its chain (self-signed: the handshake proved the key); never expired', () => {
    assert.equal(certificateOf(peer(issued), sources), issued);
    assert.equal(certificateOf(peer(foreign, 'DEPTH_ZERO_SELF_SIGNED_CERT'), sources), foreign);
    assert.equal(certificateOf(peer(foreign, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'), sources), foreign);
    assert.equal(certificateOf(peer(expired, 'CERT_HAS_EXPIRED'), sources), undefined);
    assert.equal(certificateOf(peer(issued, 'CERT_REVOKED'), sources), undefined);
  });

  test('attack: a header is proof only when it passes every check (certificates are public: anyone can paste one)', () => {
    assert.equal(certificateOf(viaHeader(issued), sources)?.fingerprint256, issued.fingerprint256);
    assert.equal(certificateOf(viaHeader(foreign), sources), undefined, 'self-signed or another CA in a header');
    assert.equal(certificateOf(viaHeader(expired), sources), undefined);
    assert.equal(certificateOf(viaHeader(issued), { ...sources, trustProxy: 0 }), undefined, 'no declared proxy');
    assert.equal(certificateOf(peer(issued, undefined, { 'x-client-cert': encodeURIComponent(issued.toString()) }), sources), undefined, 'a header beside a certificate of the connection');
  });
});

describe('company IdP tokens bound to a certificate (cnf.x5t#S256) get the same check', () => {
  let serverCa: TestCa;
  let clientCa: TestCa;
  let server: IssuedCert;
  let bot: IssuedCert;
  let other: IssuedCert;
  let idp: TestIdp;
  let web: RunningHttpUpstream;
  let gw: TestGateway;
  let resource: string;
  const agents: Agent[] = [];
  const now = () => Math.floor(Date.now() / 1000);

  before(async () => {
    serverCa = makeCa('Server CA');
    clientCa = makeCa('Client CA');
    server = serverCa.issue('server', { server: true });
    bot = clientCa.issue('bot', { cn: 'bot' });
    other = clientCa.issue('other', { cn: 'other' });
    idp = await startIdp();
    web = await startHttpUpstream({ stateful: false, json: true });
    gw = await startGateway({
      scenario: 'enterprise', store: tempStore(),
      listen: { host: '127.0.0.1', port: 0, tls: { cert: server.cert, key: server.key, clientCa: clientCa.cert } },
      auth: { jwt: { issuers: [{ issuer: idp.issuer, claims: { roles: 'groups' }, roles: { 'mcp-readers': ['reader'] } }] } },
      authorization: { scopes: { 'echo:use': { tools: ['echo'] } }, roles: { reader: ['echo:use'] } },
      upstreams: { web: { url: web.url } },
    });
    resource = `${gw.url}/mcp/web`;
  });
  after(async () => {
    await gw?.close();
    await web?.close();
    await idp?.close();
    await Promise.all(agents.map((a) => a.close()));
  });

  const sign = (cnf?: unknown) => idp.sign({
    iss: idp.issuer, sub: 'svc', aud: resource, iat: now(), exp: now() + 300, jti: randomUUID(), groups: ['mcp-readers'], client_id: IDP_SERVICE.id,
    ...(cnf === undefined ? {} : { cnf }),
  });

  async function call(token: string, cert?: IssuedCert): Promise<{ status: number; message: string }> {
    const dispatcher = new Agent({ connect: { ca: serverCa.certPem, ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}) } });
    agents.push(dispatcher);
    const res = await undiciFetch(resource, {
      method: 'POST', dispatcher, body: JSON.stringify(INITIALIZE),
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` },
    });
    const body = await res.json() as { error?: { message?: string } };
    return { status: res.status, message: String(body.error?.message ?? '') };
  }

  test('attack: an IdP token bound to bot\'s certificate with another certificate or none is refused; control: with bot\'s', async () => {
    const token = await sign({ 'x5t#S256': thumbprint(bot) });
    const withOther = await call(token, other);
    assert.equal(withOther.status, 401);
    assert.match(withOther.message, /bound to another client certificate/);
    const record = gw.audit.records.filter((r) => r.event === 'authentication').at(-1)!;
    assert.equal(record.credential.kind, 'jwt');
    assert.match(record.reason, /certificate-bound token with another certificate/);
    assert.equal((await call(token)).status, 401);
    assert.equal((await call(token, bot)).status, 200);
    const allowed = gw.audit.records.filter((r) => r.decision === 'allow').at(-1)!;
    assert.equal(allowed.subject, 'svc');
    assert.equal(allowed.certificate, thumbprint(bot));
  });

  test('attack: an IdP token bound to a DPoP key (cnf.jkt) sent as Bearer is refused, not taken as a bearer token; control: an unbound one', async () => {
    const refusedCall = await call(await sign({ jkt: 'x'.repeat(43) }), bot);
    assert.equal(refusedCall.status, 401);
    assert.match(refusedCall.message, /DPoP-bound; send it as Authorization: DPoP/);
    assert.equal((await call(await sign(), bot)).status, 200);
  });

  test('attack: a config that skipped the load-time rules and names no credential the gateway can check refuses everyone (never anonymous)', async () => {
    const open = await startGateway({
      store: tempStore(),
      auth: { jwt: { issuers: [{ issuer: idp.issuer, use: ['sso'], sso: { clientId: 'x', clientSecret: 'y' } }] } },
      authorization: { scopes: { 'echo:use': { tools: ['echo'] } } },
      upstreams: { web: { url: web.url } },
    });
    try {
      const res = await fetch(`${open.url}/mcp/web`, {
        method: 'POST', body: JSON.stringify(INITIALIZE), headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      });
      assert.equal(res.status, 401);
      assert.match(JSON.stringify(await res.json()), /names no credential this gateway can check/);
    } finally {
      await open.close();
    }
  });
});
