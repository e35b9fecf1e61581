import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../helpers/upstreams.js';
import { connectClient, INITIALIZE } from '../helpers/client.js';
import { keyedSetup, createKey } from '../helpers/keys.js';
import { makeCa, thumbprint, type IssuedCert, type TestCa } from '../helpers/certs.js';
import type { ConfigInput } from '../../src/config/index.js';

const run = promisify(execFile);
const SPIFFE = 'spiffe://example.org/ns/ci/sa/build-bot';

/** The certificates of every test: a server CA, a client CA and its good, expired and unmapped clients, and a stranger's. */
interface Pki { server: IssuedCert; serverCa: TestCa; clientCa: TestCa; good: IssuedCert; expired: IssuedCert; unmapped: IssuedCert; foreign: IssuedCert }
function makePki(): Pki {
  const serverCa = makeCa('Server CA');
  const clientCa = makeCa('Client CA');
  return {
    serverCa, clientCa,
    server: serverCa.issue('server', { server: true }),
    good: clientCa.issue('good', { cn: 'build-bot', san: `URI:${SPIFFE}` }),
    expired: clientCa.issue('expired', { cn: 'build-bot', san: `URI:${SPIFFE}`, expired: true }),
    unmapped: clientCa.issue('unmapped', { cn: 'stranger', san: 'URI:spiffe://example.org/ns/other/sa/x' }),
    foreign: makeCa('Other CA').issue('foreign', { cn: 'build-bot', san: `URI:${SPIFFE}` }),
  };
}

/** An HTTPS client trusting the server CA, presenting `cert` when given. */
function client(pki: Pki, cert?: IssuedCert): Agent {
  return new Agent({ connect: { ca: pki.serverCa.certPem, ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}) } });
}

async function initialize(url: string, dispatcher: Agent | undefined, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const res = await undiciFetch(url, {
    method: 'POST', body: JSON.stringify(INITIALIZE), ...(dispatcher ? { dispatcher } : {}),
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
  });
  return { status: res.status, body: await res.text() };
}

/** undici says "fetch failed"; a handshake refusal is in the cause (a TLS alert from the server). */
const handshakeFailed = (err: Error & { cause?: { code?: string; message?: string } }) =>
  /SSL|TLS|alert|certificate|socket|ECONNRESET/i.test(`${err.cause?.code} ${err.cause?.message}`);

const lastRecord = (gw: TestGateway) => gw.audit.records.filter((r) => r.event === 'authentication' || r.event === 'call').at(-1)!;

const AUTHORIZATION: ConfigInput['authorization'] = { scopes: { 'echo:use': { tools: ['echo'] } }, roles: { ci: ['echo:use'] } };
const MTLS = { principal: 'san-uri' as const, roles: { 'spiffe://example.org/ns/ci/*': ['ci'] } };

/** A gateway in front of an upstream (stateful unless told), with the settings every test here shares and `config` over them. */
async function startMtlsGateway(config: Partial<ConfigInput>, setup = keyedSetup(), secrets: string[] = [], stateful = true): Promise<{ gw: TestGateway; upstream: RunningHttpUpstream; mcp: string }> {
  const upstream = await startHttpUpstream({ stateful, json: !stateful });
  const gw = await startGateway({ ...setup.config, authorization: AUTHORIZATION, rateLimit: { perIp: false }, upstreams: { web: { url: upstream.url } }, ...config }, secrets);
  return { gw, upstream, mcp: `${gw.url}/mcp/web` };
}

async function stop(gw: TestGateway | undefined, upstream: RunningHttpUpstream | undefined): Promise<void> {
  await gw?.close();
  await upstream?.close();
}

describe('client certificates as principals (listen.tls.clientCertificates: request)', () => {
  let pki: Pki;
  let upstream: RunningHttpUpstream;
  let gw: TestGateway;
  let mcp: string;
  let alice: { key: string };

  before(async () => {
    pki = makePki();
    const setup = keyedSetup();
    alice = await createKey(setup.dbPath, { subject: 'alice', scopes: ['echo:use'] });
    ({ gw, upstream, mcp } = await startMtlsGateway({
      auth: { apiKeys: {}, mtls: MTLS },
      listen: { host: '127.0.0.1', port: 0, tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.clientCa.cert, clientCertificates: 'request' } },
    }, setup, [alice.key]));
  });
  after(() => stop(gw, upstream));

  test('a good certificate without a bearer token: the MCP SDK client over https calls a tool as the SPIFFE ID', async () => {
    const agent = client(pki, pki.good);
    // undici's fetch with a dispatcher that presents the certificate; its types differ from the global fetch's only in name.
    const { client: sdk } = await connectClient(mcp, {}, ((url: string | URL, init?: RequestInit) => undiciFetch(url, { ...(init as object), dispatcher: agent })) as never);
    try {
      const result = await sdk.callTool({ name: 'echo', arguments: { text: 'over mTLS' } });
      assert.match(JSON.stringify(result.content), /over mTLS/);
    } finally {
      await sdk.close();
    }
    const record = lastRecord(gw);
    assert.equal(record.decision, 'allow');
    assert.equal(record.subject, `mtls:${SPIFFE}`);
    assert.deepEqual(record.credential, { kind: 'mtls', id: thumbprint(pki.good) });
  });

  test('curl --cert with the good certificate is accepted', async () => {
    const out = await run('curl', ['-sS', '--cacert', pki.serverCa.cert, '--cert', pki.good.cert, '--key', pki.good.key, '-o', '/dev/null', '-w', '%{http_code}',
      '-X', 'POST', mcp, '-H', 'content-type: application/json', '-H', 'accept: application/json, text/event-stream', '--data', JSON.stringify(INITIALIZE)]);
    assert.equal(out.stdout, '200');
  });

  for (const [name, which, reason] of [
    ['an expired certificate', 'expired', /CERT_HAS_EXPIRED/],
    ['a certificate from another CA', 'foreign', /UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify|self.signed/i],
    ['a certificate whose principal maps to no role', 'unmapped', /maps to no role; add it to auth\.mtls\.roles/],
  ] as const) {
    test(`attack: ${name} is refused with 401, its thumbprint in the audit record; the next good request works`, async () => {
      const refused = await initialize(mcp, client(pki, pki[which]));
      assert.equal(refused.status, 401);
      assert.match(refused.body, reason);
      const record = lastRecord(gw);
      assert.equal(record.event, 'authentication');
      assert.equal(record.decision, 'deny');
      assert.deepEqual(record.credential, { kind: 'mtls', id: thumbprint(pki[which]) });
      assert.equal((await initialize(mcp, client(pki, pki.good))).status, 200);
    });
  }

  test('a refused certificate is refused even beside a valid API key (control: the key alone works)', async () => {
    assert.equal((await initialize(mcp, client(pki, pki.expired), { authorization: `Bearer ${alice.key}` })).status, 401);
    assert.equal((await initialize(mcp, client(pki), { authorization: `Bearer ${alice.key}` })).status, 200);
  });

  test('no certificate and no token: 401 naming both; an API key without a certificate works (request, not require)', async () => {
    const none = await initialize(mcp, client(pki));
    assert.equal(none.status, 401);
    assert.equal(lastRecord(gw).credential.kind, 'none');
    assert.equal((await initialize(mcp, client(pki), { authorization: `Bearer ${alice.key}` })).status, 200);
    assert.equal(lastRecord(gw).credential.kind, 'api_key');
    assert.equal(lastRecord(gw).certificate, undefined);
  });

  test('a bearer token beside a good certificate: the token says who, the thumbprint is in the record', async () => {
    assert.equal((await initialize(mcp, client(pki, pki.good), { authorization: `Bearer ${alice.key}` })).status, 200);
    const record = lastRecord(gw);
    assert.equal(record.subject, 'alice');
    assert.equal(record.credential.kind, 'api_key');
    assert.equal(record.certificate, thumbprint(pki.good));
  });

  test('attack: a forged X-Forwarded-Client-Cert header is not read when no header is configured', async () => {
    const res = await initialize(mcp, client(pki), { 'x-forwarded-client-cert': encodeURIComponent(pki.good.certPem) });
    assert.equal(res.status, 401);
    assert.equal(lastRecord(gw).credential.kind, 'none');
  });
});

describe('listen.tls.clientCertificates: require', () => {
  let pki: Pki;
  let upstream: RunningHttpUpstream;
  let gw: TestGateway;
  let mcp: string;

  before(async () => {
    pki = makePki();
    ({ gw, upstream, mcp } = await startMtlsGateway({
      auth: { mtls: MTLS },
      listen: { host: '127.0.0.1', port: 0, tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.clientCa.cert, clientCertificates: 'require' } },
    }));
  });
  after(() => stop(gw, upstream));

  test('attack: no certificate, an expired one, one from another CA: the TLS handshake fails (no HTTP answer at all); a good one works', async () => {
    for (const cert of [undefined, pki.expired, pki.foreign]) {
      await assert.rejects(initialize(mcp, client(pki, cert)), handshakeFailed, cert?.cert ?? 'no certificate');
    }
    await assert.rejects(run('curl', ['-sS', '--cacert', pki.serverCa.cert, `${gw.url}/healthz`]));
    assert.equal((await initialize(mcp, client(pki, pki.good))).status, 200);
    assert.equal(lastRecord(gw).credential.kind, 'mtls');
  });

  test('an unmapped certificate passes the handshake but gets 401 (roles are the gateway\'s, not the CA\'s)', async () => {
    assert.equal((await initialize(mcp, client(pki, pki.unmapped))).status, 401);
    assert.equal((await initialize(mcp, client(pki, pki.good))).status, 200);
  });
});

describe('revoked client certificates: listen.tls.clientCrl', () => {
  let pki: Pki;
  let victim: IssuedCert;
  let uncovered: IssuedCert;
  let crlFile: string;
  let upstream: RunningHttpUpstream;
  let gw: TestGateway;
  let mcp: string;
  /** Puts `crl` where the config points and has the gateway re-read its files, as SIGHUP does. */
  const useCrl = async (crl: string) => {
    copyFileSync(crl, crlFile);
    await gw.gateway.reloadKeys();
  };

  before(async () => {
    pki = makePki();
    victim = pki.clientCa.issue('victim', { cn: 'build-bot', san: `URI:${SPIFFE}` });
    // A second CA in clientCa whose CRL is not in clientCrl: its certificates cannot be checked.
    const uncheckedCa = makeCa('Unchecked CA');
    uncovered = uncheckedCa.issue('uncovered', { cn: 'build-bot', san: `URI:${SPIFFE}` });
    const dir = mkdtempSync(join(tmpdir(), 'warden-crl-'));
    const bundle = join(dir, 'client-cas.pem');
    writeFileSync(bundle, pki.clientCa.certPem + uncheckedCa.certPem);
    crlFile = join(dir, 'clients.crl');
    copyFileSync(pki.clientCa.crl(), crlFile);
    ({ gw, upstream, mcp } = await startMtlsGateway({
      auth: { mtls: MTLS },
      listen: { host: '127.0.0.1', port: 0, tls: { cert: pki.server.cert, key: pki.server.key, clientCa: bundle, clientCrl: crlFile } },
    }));
  });
  after(() => stop(gw, upstream));

  test('attack: a certificate revoked after it worked is refused (401 CERT_REVOKED, audited with its thumbprint) once the new CRL is read on SIGHUP', async () => {
    assert.equal((await initialize(mcp, client(pki, victim))).status, 200);
    pki.clientCa.revoke(victim);
    await useCrl(pki.clientCa.crl());
    const refused = await initialize(mcp, client(pki, victim));
    assert.equal(refused.status, 401);
    assert.match(refused.body, /CERT_REVOKED/);
    assert.deepEqual(lastRecord(gw).credential, { kind: 'mtls', id: thumbprint(victim) });
    assert.equal(lastRecord(gw).decision, 'deny');
    // Control: the CA's other certificate still works.
    assert.equal((await initialize(mcp, client(pki, pki.good))).status, 200);
  });

  test('attack: a certificate of a CA with no CRL in clientCrl is refused (fails closed: UNABLE_TO_GET_CRL)', async () => {
    const refused = await initialize(mcp, client(pki, uncovered));
    assert.equal(refused.status, 401);
    assert.match(refused.body, /UNABLE_TO_GET_CRL/);
  });

  test('an out-of-date CRL refuses every certificate (CRL_HAS_EXPIRED) until a fresh one is read; an unreadable one keeps the running list', async () => {
    await useCrl(pki.clientCa.crl({ expired: true }));
    const refused = await initialize(mcp, client(pki, pki.good));
    assert.equal(refused.status, 401);
    assert.match(refused.body, /CRL_HAS_EXPIRED/);
    await useCrl(pki.clientCa.crl());
    assert.equal((await initialize(mcp, client(pki, pki.good))).status, 200);
    writeFileSync(crlFile, 'not a CRL');
    await assert.rejects(gw.gateway.reloadKeys(), /listen\.tls: the files do not make a usable certificate/);
    assert.equal((await initialize(mcp, client(pki, pki.good))).status, 200);
    assert.equal((await initialize(mcp, client(pki, victim))).status, 401);
  });
});

describe('a policy that requires a certificate beside a token (Cedar)', () => {
  let pki: Pki;
  let upstream: RunningHttpUpstream;
  let gw: TestGateway;
  let mcp: string;
  let alice: { key: string };
  const echoCall = (dispatcher: Agent, headers: Record<string, string> = {}) => undiciFetch(mcp, {
    method: 'POST', dispatcher,
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } }),
  });

  before(async () => {
    pki = makePki();
    const dir = mkdtempSync(join(tmpdir(), 'warden-cedar-mtls-'));
    // People call from a build machine only: the token says who, the certificate from where.
    writeFileSync(join(dir, 'policies.cedar'), [
      'permit (principal, action, resource) when {',
      '  principal has certificate && principal.certificate.subject == "CN=build-bot" && principal.certificate.thumbprint != ""',
      '};',
    ].join('\n'));
    const setup = keyedSetup();
    alice = await createKey(setup.dbPath, { subject: 'alice', scopes: ['echo:use'] });
    ({ gw, upstream, mcp } = await startMtlsGateway({
      auth: { apiKeys: {}, mtls: MTLS },
      listen: { host: '127.0.0.1', port: 0, tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.clientCa.cert } },
      authorization: { ...AUTHORIZATION, cedar: { policies: join(dir, 'policies.cedar'), reload: false } },
    }, setup, [alice.key], false));
  });
  after(() => stop(gw, upstream));

  test('a token with the certificate is permitted, and policies see its subject DN and thumbprint; the token alone is denied', async () => {
    const both = await echoCall(client(pki, pki.good), { authorization: `Bearer ${alice.key}` });
    assert.equal(both.status, 200, await both.text());
    const record = lastRecord(gw);
    assert.equal(record.subject, 'alice');
    assert.equal(record.certificate, thumbprint(pki.good));
    assert.match(record.reason, /cedar permit/);
    const alone = await echoCall(client(pki), { authorization: `Bearer ${alice.key}` });
    assert.equal(alone.status, 403);
    assert.match(lastRecord(gw).reason, /cedar: no policy permits it/);
  });

  test('a certificate alone (a Machine principal) is seen with its certificate too', async () => {
    const machine = await echoCall(client(pki, pki.good));
    assert.equal(machine.status, 200, await machine.text());
    assert.equal(lastRecord(gw).subject, `mtls:${SPIFFE}`);
  });
});

describe('behind a TLS-terminating proxy: auth.mtls.header', () => {
  let pki: Pki;
  let upstream: RunningHttpUpstream;
  let gw: TestGateway;
  let mcp: string;
  const header = (c: IssuedCert) => ({ 'x-forwarded-client-cert': encodeURIComponent(c.certPem), 'x-forwarded-for': '203.0.113.7' });

  before(async () => {
    pki = makePki();
    ({ gw, upstream, mcp } = await startMtlsGateway({
      auth: { mtls: { ...MTLS, header: 'X-Forwarded-Client-Cert', ca: pki.clientCa.cert } },
      http: { trustProxy: 1 },
    }));
  });
  after(() => stop(gw, upstream));

  test('the certificate from the header is the principal', async () => {
    assert.equal((await initialize(mcp, undefined, header(pki.good))).status, 200);
    assert.deepEqual(lastRecord(gw).credential, { kind: 'mtls', id: thumbprint(pki.good) });
    assert.equal(lastRecord(gw).subject, `mtls:${SPIFFE}`);
  });

  for (const [name, headers, reason] of [
    ['an expired certificate', () => header(pki.expired), /CERT_HAS_EXPIRED/],
    ['a certificate from another CA', () => header(pki.foreign), /not issued by auth\.mtls\.ca/],
    ['the CA certificate itself', () => header(pki.clientCa), /not a client certificate/],
    ['garbage', () => ({ 'x-forwarded-client-cert': '%E0%A4%A' }), /does not hold a URL-encoded PEM/],
  ] as const) {
    test(`attack: ${name} in the header is refused with 401 and recorded; the next good request works`, async () => {
      const res = await initialize(mcp, undefined, headers());
      assert.equal(res.status, 401);
      assert.match(res.body, reason);
      assert.equal(lastRecord(gw).credential.kind, 'mtls');
      assert.equal((await initialize(mcp, undefined, header(pki.good))).status, 200);
    });
  }
});
