import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../helpers/upstreams.js';
import { callTool } from '../helpers/client.js';
import { keyedSetup, createKey } from '../helpers/keys.js';
import { makeCa, type IssuedCert, type TestCa } from '../helpers/certs.js';

/**
 * An https upstream with a private CA that requires a client certificate: the gateway pins the CA and
 * presents its own certificate (upstreams.<name>.tls). Three upstream entries point at the same server: one
 * configured right, one without the client certificate, one pinning another CA.
 */
describe('upstreams.<name>.tls: a pinned CA and the gateway\'s client certificate', () => {
  let ca: TestCa;
  let gatewayCert: IssuedCert;
  let upstream: RunningHttpUpstream;
  let gw: TestGateway;
  let alice: { key: string };

  before(async () => {
    ca = makeCa('Upstream CA');
    const server = ca.issue('upstream', { server: true });
    gatewayCert = ca.issue('gateway', { cn: 'warden-gateway' });
    upstream = await startHttpUpstream({
      stateful: true, json: false,
      tls: { cert: server.certPem, key: server.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
    });
    const setup = keyedSetup();
    alice = await createKey(setup.dbPath, { subject: 'alice', scopes: ['echo:use'] });
    gw = await startGateway({
      ...setup.config,
      authorization: { scopes: { 'echo:use': { tools: ['echo'] } } },
      rateLimit: { perIp: false },
      upstreams: {
        good: { url: upstream.url, tls: { ca: ca.cert, cert: gatewayCert.cert, key: gatewayCert.key } },
        nocert: { url: upstream.url, tls: { ca: ca.cert } },
        wrongca: { url: upstream.url, tls: { ca: makeCa('Another CA').cert, cert: gatewayCert.cert, key: gatewayCert.key } },
      },
    }, [alice.key]);
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test('the gateway presents its certificate and trusts the pinned CA: a tool call goes through', async () => {
    const res = await callTool(`${gw.url}/mcp/good`, alice.key, 'echo', { text: 'over upstream mTLS' });
    assert.equal(res.status, 200, res.text);
    assert.match(JSON.stringify(res.json), /over upstream mTLS/);
    assert.ok(upstream.seen.length > 0 && upstream.seen.every((r) => r.peerCertificate === 'warden-gateway'));
  });

  test('without the client certificate the upstream refuses the handshake: 502, and the configured upstream still works', async () => {
    const before = upstream.seen.length;
    const res = await callTool(`${gw.url}/mcp/nocert`, alice.key, 'echo', { text: 'x' });
    assert.equal(res.status, 502, res.text);
    assert.equal(upstream.seen.length, before, 'no request reached the upstream');
    assert.equal((await callTool(`${gw.url}/mcp/good`, alice.key, 'echo', { text: 'y' })).status, 200);
  });

  test('attack: an upstream whose certificate is not from the pinned CA (here: the CA pinned is another one) is not talked to: 502', async () => {
    const before = upstream.seen.length;
    const res = await callTool(`${gw.url}/mcp/wrongca`, alice.key, 'echo', { text: 'x' });
    assert.equal(res.status, 502, res.text);
    assert.equal(upstream.seen.length, before);
    assert.equal((await callTool(`${gw.url}/mcp/good`, alice.key, 'echo', { text: 'z' })).status, 200);
  });

  test('a key that is not the certificate\'s stops start-up naming upstreams.<name>.tls (control: the right pair started above)', async () => {
    await assert.rejects(startGateway({
      auth: 'none',
      upstreams: { good: { url: upstream.url, tls: { ca: ca.cert, cert: gatewayCert.cert, key: ca.key } } },
    }), /upstreams\.good\.tls: the files do not make a usable TLS client \(.*\); ca, cert and key must be PEM/);
  });
});
