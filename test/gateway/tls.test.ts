import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import { Agent, Pool, fetch as undiciFetch } from 'undici';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../helpers/upstreams.js';
import { INITIALIZE } from '../helpers/client.js';
import { keyedSetup, createKey } from '../helpers/keys.js';
import { makeCa, type IssuedCert, type TestCa } from '../helpers/certs.js';

const run = promisify(execFile);

/** undici says "fetch failed"; the handshake's refusal is in the cause (e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE). */
const untrusted = (err: Error & { cause?: { code?: string; message?: string } }) =>
  /CERT|SIGNATURE|SELF_SIGNED|VERIFY/i.test(`${err.cause?.code} ${err.cause?.message}`);

/** An HTTPS client that trusts only `ca`: a handshake with a certificate it did not issue fails. */
function trusting(ca: TestCa): Agent {
  return new Agent({ connect: { ca: ca.certPem } });
}

async function initializeOver(dispatcher: Agent | Pool, url: string, key: string): Promise<number> {
  const res = await undiciFetch(url, {
    method: 'POST', dispatcher, body: JSON.stringify(INITIALIZE),
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
  });
  await res.arrayBuffer();
  return res.status;
}

describe('listen.tls: the gateway terminates TLS', () => {
  let upstream: RunningHttpUpstream;
  let gw: TestGateway;
  let ca: TestCa;
  let server: IssuedCert;
  let alice: { key: string };
  let mcp: string;
  let current: TestCa;

  before(async () => {
    ca = makeCa('Gateway CA');
    server = ca.issue('server', { server: true });
    upstream = await startHttpUpstream({ stateful: true, json: false });
    const setup = keyedSetup();
    alice = await createKey(setup.dbPath, { subject: 'alice', scopes: ['echo:use'] });
    gw = await startGateway({
      ...setup.config,
      listen: { host: '127.0.0.1', port: 0, tls: { cert: server.cert, key: server.key } },
      authorization: { scopes: { 'echo:use': { tools: ['echo'] } } },
      rateLimit: { perIp: false },
      upstreams: { web: { url: upstream.url } },
    }, [alice.key]);
    mcp = `${gw.url}/mcp/web`;
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test('the listen URL is https and an API key works over it (undici trusting the CA)', async () => {
    assert.match(gw.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(await initializeOver(trusting(ca), mcp, alice.key), 200);
  });

  test('curl --cacert calls a tool over TLS 1.2 at least; curl forced to TLS 1.1 fails the handshake', async () => {
    const init = await run('curl', ['-sS', '--cacert', ca.cert, '-D', '-', '-o', '/dev/null', '-X', 'POST', mcp,
      '-H', `authorization: Bearer ${alice.key}`, '-H', 'content-type: application/json', '-H', 'accept: application/json, text/event-stream',
      '--data', JSON.stringify(INITIALIZE)]);
    assert.match(init.stdout, /^HTTP\/1\.1 200/);
    await assert.rejects(run('curl', ['-sS', '--cacert', ca.cert, '--tlsv1.1', '--tls-max', '1.1', `${gw.url}/healthz`]), /SSL|TLS|alert|protocol/i);
    // Control: the next legitimate request still works.
    assert.equal(await initializeOver(trusting(ca), mcp, alice.key), 200);
  });

  test('attack: plain HTTP to the TLS port gets no answer from the gateway; a client that does not trust the CA fails the handshake', async () => {
    await assert.rejects(fetch(mcp.replace('https:', 'http:'), { method: 'POST', body: '{}' }));
    await assert.rejects(initializeOver(trusting(makeCa('Stranger CA')), mcp, alice.key), untrusted);
    assert.equal(await initializeOver(trusting(ca), mcp, alice.key), 200);
  });

  test('SIGHUP (reloadKeys) swaps the certificate for new handshakes without dropping an open connection', async () => {
    const before = new Pool(gw.url, { connections: 1, connect: { ca: ca.certPem } });
    assert.equal(await initializeOver(before, mcp, alice.key), 200);
    const next = makeCa('Next CA');
    current = next;
    const renewed = next.issue('server', { server: true });
    writeFileSync(server.cert, renewed.certPem);
    writeFileSync(server.key, renewed.keyPem);
    await gw.gateway.reloadKeys();
    // The kept-alive connection made under the old certificate still serves.
    assert.equal(await initializeOver(before, mcp, alice.key), 200);
    await before.close();
    assert.equal(await initializeOver(trusting(next), mcp, alice.key), 200, 'new handshakes present the new certificate');
    await assert.rejects(initializeOver(trusting(ca), mcp, alice.key), untrusted);
  });

  test('a reload with a missing file throws naming the setting, and the running certificate stays', async () => {
    const cert = gw.config.listen.tls!.cert;
    gw.config.listen.tls!.cert = `${cert}.missing`;
    try {
      await assert.rejects(gw.gateway.reloadKeys(), (err: Error) => /listen\.tls\.cert: cannot read/.test(err.message));
    } finally {
      gw.config.listen.tls!.cert = cert;
    }
    assert.equal(await initializeOver(trusting(current), mcp, alice.key), 200);
  });

  test('a certificate with another certificate\'s key: start-up fails naming listen.tls; a reload with it keeps the running one', async () => {
    const other = makeCa('Mismatch CA').issue('server', { server: true });
    await assert.rejects(startGateway({
      auth: { apiKeys: {} }, store: { sqlite: ':memory:' }, authorization: { scopes: { s: { tools: ['echo'] } } },
      listen: { host: '127.0.0.1', port: 0, tls: { cert: other.cert, key: server.key } },
      upstreams: { web: { url: upstream.url } },
    }), /listen\.tls: the files do not make a usable certificate \(.*\); cert, key, clientCa and clientCrl must be PEM/);
    const key = gw.config.listen.tls!.key;
    gw.config.listen.tls!.key = other.cert;
    try {
      await assert.rejects(gw.gateway.reloadKeys(), /listen\.tls: the files do not make a usable certificate/);
    } finally {
      gw.config.listen.tls!.key = key;
    }
    assert.equal(await initializeOver(trusting(current), mcp, alice.key), 200);
  });
});
