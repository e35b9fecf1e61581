import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LookupAddress } from 'node:dns';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Provider from 'oidc-provider';
import {
  createSafeFetch,
  SafeFetchError,
  type LookupFunction,
  type SafeFetchErrorCode,
} from '../../src/authorization-server/safe-fetch.js';
import { isPublicAddress, nonPublicReason } from '../../src/authorization-server/public-address.js';

/** A lookup that answers `answers[n]` on its n-th call (the last answer repeats) and counts its calls. */
function scriptedLookup(...answers: string[][]): LookupFunction & { calls: string[] } {
  const calls: string[] = [];
  const lookup = (hostname: string, _options: { all: true }, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void): void => {
    const answer = answers[Math.min(calls.length, answers.length - 1)] ?? [];
    calls.push(hostname);
    setImmediate(() => callback(null, answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))));
  };
  return Object.assign(lookup, { calls });
}

async function rejectsWith(promise: Promise<unknown>, code: SafeFetchErrorCode, message?: RegExp): Promise<SafeFetchError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof SafeFetchError, `expected a SafeFetchError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected a ${code} rejection`);
}

describe('nonPublicReason', () => {
  test('every non-public IPv4 range is refused', () => {
    const cases: Array<[string, RegExp]> = [
      ['0.0.0.0', /this network/],
      ['0.255.255.255', /this network/],
      ['10.0.0.1', /^a private address \(10\.0\.0\.0\/8\)$/],
      ['10.255.255.255', /private/],
      ['100.64.0.1', /carrier-grade NAT/],
      ['100.127.255.255', /carrier-grade NAT/],
      ['127.0.0.1', /loopback/],
      ['127.255.255.254', /loopback/],
      ['169.254.169.254', /link-local/],
      ['172.16.0.1', /private.*172\.16\.0\.0\/12/],
      ['172.31.255.255', /private/],
      ['192.0.0.8', /IETF/],
      ['192.0.2.1', /documentation/],
      ['192.88.99.1', /6to4 relay/],
      ['192.168.1.1', /private/],
      ['198.18.0.1', /benchmarking/],
      ['198.19.255.255', /benchmarking/],
      ['198.51.100.7', /documentation/],
      ['203.0.113.9', /documentation/],
      ['224.0.0.1', /multicast/],
      ['239.255.255.250', /multicast/],
      ['240.0.0.1', /reserved/],
      ['255.255.255.255', /broadcast/],
    ];
    for (const [address, reason] of cases) assert.match(nonPublicReason(address) ?? 'PUBLIC', reason, address);
  });

  test('every non-public IPv6 range is refused, and embedded IPv4 addresses are checked', () => {
    const cases: Array<[string, RegExp]> = [
      ['::', /unspecified/],
      ['::1', /loopback/],
      ['0:0:0:0:0:0:0:1', /loopback/],
      ['::ffff:127.0.0.1', /IPv4-mapped .* embedding 127\.0\.0\.1, a loopback/],
      ['::ffff:7f00:1', /IPv4-mapped .* embedding 127\.0\.0\.1/],
      ['::ffff:10.1.2.3', /embedding 10\.1\.2\.3, a private/],
      ['::ffff:169.254.169.254', /link-local/],
      ['64:ff9b::7f00:1', /NAT64 .* embedding 127\.0\.0\.1/],
      ['64:ff9b::10.0.0.1', /NAT64 .* embedding 10\.0\.0\.1/],
      ['2002:7f00:1::1', /6to4 .* embedding 127\.0\.0\.1/],
      ['2002:a9fe:a9fe::', /6to4 .* embedding 169\.254\.169\.254/],
      ['::127.0.0.1', /IPv4-compatible/],
      ['100::1', /discard-only/],
      ['2001::1', /Teredo/],
      ['2001:db8::1', /documentation/],
      ['fc00::1', /unique local/],
      ['fd12:3456:789a::1', /unique local/],
      ['fe80::1', /link-local/],
      ['fe80::1%eth0', /link-local/],
      ['ff02::1', /multicast/],
      ['4000::1', /outside 2000::\/3/],
    ];
    for (const [address, reason] of cases) assert.match(nonPublicReason(address) ?? 'PUBLIC', reason, address);
  });

  test('public unicast addresses pass, including public IPv4 inside mapped / NAT64 / 6to4 forms', () => {
    for (const address of [
      '93.184.216.34',
      '8.8.8.8',
      '1.1.1.1',
      '11.0.0.1',
      '100.128.0.1',
      '169.255.0.1',
      '172.32.0.1',
      '192.169.0.1',
      '198.20.0.1',
      '223.255.255.254',
      '2606:4700:4700::1111',
      '2a00:1450:4001:80b::200e',
      '2001:200::1',
      '::ffff:93.184.216.34',
      '64:ff9b::5db8:d822',
      '2002:5db8:d822::1',
    ]) {
      assert.equal(nonPublicReason(address), undefined, address);
      assert.equal(isPublicAddress(address), true, address);
    }
  });

  test('anything that is not an IP address is refused', () => {
    for (const junk of ['', 'localhost', '127.1', '2130706433', '0x7f000001', '1.2.3.4.5', '01.2.3.4', ':::1']) {
      assert.equal(nonPublicReason(junk), 'not an IP address', junk);
    }
  });
});

describe('createSafeFetch refusals (nothing is connected to)', () => {
  test('http and other schemes', async () => {
    const lookup = scriptedLookup(['93.184.216.34']);
    const safeFetch = createSafeFetch({ lookup });
    await rejectsWith(safeFetch('http://example.com/client.json'), 'REFUSED', /^refusing to fetch http:\/\/example\.com\/client\.json: only https: URLs are allowed/);
    await rejectsWith(safeFetch('file:///etc/passwd'), 'REFUSED', /only https:/);
    await rejectsWith(safeFetch('ftp://example.com/x'), 'REFUSED', /only https:/);
    await rejectsWith(safeFetch('not a url'), 'REFUSED', /not a valid URL/);
    await rejectsWith(safeFetch(new Request('https://example.com/')), 'REFUSED', /not a Request/);
    assert.equal(lookup.calls.length, 0);
    await safeFetch.close();
  });

  test('credentials in the URL, without echoing them', async () => {
    const lookup = scriptedLookup(['93.184.216.34']);
    const safeFetch = createSafeFetch({ lookup });
    const err = await rejectsWith(safeFetch('https://user:s3cret@example.com/x?q=1'), 'REFUSED', /credentials/);
    assert.doesNotMatch(err.message, /s3cret|user/);
    assert.match(err.message, /https:\/\/example\.com\/x:/);
    await rejectsWith(safeFetch('https://user@example.com/x'), 'REFUSED', /credentials/);
    assert.equal(lookup.calls.length, 0);
    await safeFetch.close();
  });

  test('literal non-public IP hosts, without a DNS lookup', async () => {
    const lookup = scriptedLookup(['93.184.216.34']);
    const safeFetch = createSafeFetch({ lookup });
    const cases: Array<[string, RegExp]> = [
      ['https://127.0.0.1/x', /^refusing to fetch https:\/\/127\.0\.0\.1\/x: 127\.0\.0\.1 is a loopback address/],
      ['https://[::1]/x', /::1 is a loopback address/],
      ['https://[::ffff:127.0.0.1]/x', /IPv4-mapped .* embedding 127\.0\.0\.1/],
      ['https://10.1.2.3/x', /^refusing to fetch https:\/\/10\.1\.2\.3\/x: 10\.1\.2\.3 is a private address/],
      ['https://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is a link-local address/],
      ['https://100.64.0.1/x', /carrier-grade NAT/],
      ['https://192.168.1.1/x', /192\.168\.1\.1 is a private address/],
      ['https://172.16.0.1/x', /172\.16\.0\.1 is a private address/],
      ['https://[fc00::1]/x', /unique local/],
      ['https://[fe80::1]/x', /link-local/],
      ['https://0.0.0.0/x', /this network/],
      ['https://10.0.0.1:8443/x', /10\.0\.0\.1:8443\/x: 10\.0\.0\.1 is a private/],
    ];
    for (const [url, message] of cases) await rejectsWith(safeFetch(url), 'REFUSED', message);
    assert.equal(lookup.calls.length, 0);
    await safeFetch.close();
  });

  test('decimal, hex, short and octal IPv4 forms are normalised by URL parsing, then refused', async () => {
    const safeFetch = createSafeFetch({ lookup: scriptedLookup(['93.184.216.34']) });
    for (const url of ['https://2130706433/x', 'https://0x7f000001/x', 'https://127.1/x', 'https://0177.0.0.1/x', 'https://127.0.0.1./x', 'https://0x7f.0.0.1/x']) {
      assert.equal(new URL(url).hostname, '127.0.0.1', url);
      await rejectsWith(safeFetch(url), 'REFUSED', /127\.0\.0\.1 is a loopback address/);
    }
    assert.equal(new URL('https://[0:0:0:0:0:0:0:1]/').hostname, '[::1]');
    await rejectsWith(safeFetch('https://[0:0:0:0:0:0:0:1]/x'), 'REFUSED', /loopback/);
    await safeFetch.close();
  });

  test('localhost, by real resolution, is loopback', async () => {
    const safeFetch = createSafeFetch();
    await rejectsWith(safeFetch('https://localhost/x'), 'REFUSED', /^refusing to fetch https:\/\/localhost\/x: localhost resolves to (127\.0\.0\.1|::1), a loopback address/);
    await safeFetch.close();
  });

  test('a hostname whose lookup answers a private address', async () => {
    const lookup = scriptedLookup(['10.0.0.5']);
    const safeFetch = createSafeFetch({ lookup });
    await rejectsWith(safeFetch('https://evil.test/client.json'), 'REFUSED', /^refusing to fetch https:\/\/evil\.test\/client\.json: evil\.test resolves to 10\.0\.0\.5, a private address/);
    assert.deepEqual(lookup.calls, ['evil.test']);
    await safeFetch.close();
  });

  test('a hostname whose lookup answers one public and one private address is refused outright', async () => {
    const safeFetch = createSafeFetch({ lookup: scriptedLookup(['93.184.216.34', '169.254.169.254']) });
    await rejectsWith(safeFetch('https://mixed.test/x'), 'REFUSED', /mixed\.test resolves to 169\.254\.169\.254, a link-local/);
    const v6 = createSafeFetch({ lookup: scriptedLookup(['2606:4700:4700::1111', '::1']) });
    await rejectsWith(v6('https://mixed6.test/x'), 'REFUSED', /resolves to ::1, a loopback/);
    await Promise.all([safeFetch.close(), v6.close()]);
  });

  test('a lookup answering junk or nothing is refused / fails, never connects', async () => {
    const junk = createSafeFetch({ lookup: scriptedLookup(['not-an-ip']), allowPrivate: true });
    await rejectsWith(junk('https://junk.test/x'), 'REFUSED', /not an IP address/);
    const empty = createSafeFetch({ lookup: scriptedLookup([]) });
    await rejectsWith(empty('https://empty.test/x'), 'FAILED', /ENOTFOUND/);
    const failing = createSafeFetch({
      lookup: (_host, _opts, callback) => callback(Object.assign(new Error('getaddrinfo ENOTFOUND nx.test'), { code: 'ENOTFOUND' }), []),
    });
    await rejectsWith(failing('https://nx.test/x'), 'FAILED', /^fetching https:\/\/nx\.test\/x failed: ENOTFOUND$/);
    await Promise.all([junk.close(), empty.close(), failing.close()]);
  });

  test('options are validated', () => {
    assert.throws(() => createSafeFetch({ timeoutMs: 0 }), /timeoutMs/);
    assert.throws(() => createSafeFetch({ maxBytes: Number.NaN }), /maxBytes/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Against a local HTTPS server with a self-signed certificate for "cimd.test" (no IP SAN).

let hasOpenssl = true;
try {
  execFileSync('openssl', ['version'], { stdio: 'ignore' });
} catch {
  hasOpenssl = false;
}

describe('createSafeFetch against a local https server', { skip: hasOpenssl ? false : 'openssl is not installed' }, () => {
  let dir: string;
  let ca: string;
  let server: https.Server;
  let port: number;
  let connections = 0;
  const requests: IncomingMessage[] = [];
  const docUrl = (): string => `https://cimd.test:${port}/client.json`;
  const document = (): Record<string, unknown> => ({
    client_id: docUrl(),
    client_name: 'Test client',
    redirect_uris: ['https://app.example/callback'],
    token_endpoint_auth_method: 'none',
  });

  function handle(req: IncomingMessage, res: ServerResponse): void {
    requests.push(req);
    res.setHeader('x-test-server', 'local');
    switch (req.url) {
      case '/client.json': {
        const body = JSON.stringify(document());
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' }).end(body);
        return;
      }
      case '/echo':
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ method: req.method, headers: req.headers }));
        return;
      case '/redirect':
        res.writeHead(302, { location: `https://cimd.test:${port}/client.json` }).end('moved');
        return;
      case '/redirect-internal':
        res.writeHead(307, { location: 'https://169.254.169.254/latest/meta-data/' }).end();
        return;
      case '/big-declared':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '10000' }).end('x'.repeat(10000));
        return;
      case '/big-chunked':
        res.writeHead(200, { 'content-type': 'application/json' });
        for (let i = 0; i < 10; i++) res.write('y'.repeat(1000));
        res.end();
        return;
      case '/exactly-1000':
        res.writeHead(200).end('z'.repeat(1000));
        return;
      case '/no-content':
        res.writeHead(204).end();
        return;
      case '/slow-headers':
        return; // never answers
      case '/slow-body':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"partial":');
        return; // never finishes
      default:
        res.writeHead(404).end('secret internal error page');
    }
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'safe-fetch-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2',
      '-subj', '/CN=cimd.test', '-addext', 'subjectAltName=DNS:cimd.test',
    ], { stdio: 'ignore' });
    ca = readFileSync(join(dir, 'cert.pem'), 'utf8');
    server = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: ca }, handle);
    server.on('connection', () => {
      connections++;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  /** allowPrivate, pinned to 127.0.0.1, trusting the test certificate. */
  function localFetch(extra: Parameters<typeof createSafeFetch>[0] = {}) {
    const lookup = scriptedLookup(['127.0.0.1']);
    return { lookup, safeFetch: createSafeFetch({ allowPrivate: true, lookup, connect: { ca }, maxBytes: 1000, ...extra }) };
  }

  test('fetches a JSON document; TLS verifies the certificate against the URL hostname', async () => {
    const { lookup, safeFetch } = localFetch();
    const response = await safeFetch(docUrl(), { headers: { accept: 'application/json' } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/json');
    assert.equal(response.headers.get('cache-control'), 'max-age=60');
    assert.deepEqual(await response.json(), document());
    assert.deepEqual(lookup.calls, ['cimd.test']);
    assert.equal(requests.at(-1)?.headers.host, `cimd.test:${port}`);
    await safeFetch.close();
  });

  test('certificate verification stays on', async () => {
    // No extra trust: the self-signed certificate is refused.
    const untrusted = createSafeFetch({ allowPrivate: true, lookup: scriptedLookup(['127.0.0.1']) });
    await rejectsWith(untrusted(docUrl()), 'FAILED', /^fetching https:\/\/cimd\.test:\d+\/client\.json failed: (DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)/);
    // The certificate names cimd.test, not 127.0.0.1.
    const { safeFetch } = localFetch();
    await rejectsWith(safeFetch(`https://127.0.0.1:${port}/client.json`), 'FAILED', /ERR_TLS_CERT_ALTNAME_INVALID/);
    await Promise.all([untrusted.close(), safeFetch.close()]);
  });

  test('the same hostname refused without allowPrivate (the check is not just for literals)', async () => {
    const lookup = scriptedLookup(['127.0.0.1']);
    const safeFetch = createSafeFetch({ lookup, connect: { ca } });
    const before = connections;
    await rejectsWith(safeFetch(docUrl()), 'REFUSED', /cimd\.test resolves to 127\.0\.0\.1, a loopback address/);
    assert.equal(connections, before);
    await safeFetch.close();
  });

  test('DNS rebinding: the connection goes to the vetted answer; the later private answer is never connected to', async () => {
    // First answer public (there is no internet here: whatever happens there, it is not our local server),
    // then private. The socket's own lookup is the check, so there is exactly one lookup per connection.
    const lookup = scriptedLookup(['93.184.216.34'], ['127.0.0.1']);
    const safeFetch = createSafeFetch({ lookup, connect: { ca }, timeoutMs: 1500 });
    const before = connections;
    try {
      const response = await safeFetch(docUrl());
      // Only possible with real internet access; it certainly was not our server.
      assert.notEqual(response.headers.get('x-test-server'), 'local');
    } catch (err) {
      assert.ok(err instanceof SafeFetchError);
      assert.ok(err.code === 'FAILED' || err.code === 'TIMEOUT', err.message);
      assert.match(err.message, /^fetching https:\/\/cimd\.test:\d+\/client\.json failed: /);
    }
    assert.deepEqual(lookup.calls, ['cimd.test'], 'one lookup: the vetted answer is the one used to connect');
    assert.equal(connections, before, 'nothing reached 127.0.0.1');

    await rejectsWith(safeFetch(docUrl()), 'REFUSED', /resolves to 127\.0\.0\.1, a loopback/);
    assert.equal(lookup.calls.length, 2);
    assert.equal(connections, before, 'nothing reached 127.0.0.1');
    await safeFetch.close();
  });

  test('redirects are not followed, whatever the caller asks', async () => {
    const { lookup, safeFetch } = localFetch();
    const count = requests.length;
    const response = await safeFetch(`https://cimd.test:${port}/redirect`, { redirect: 'follow' });
    assert.equal(response.status, 302);
    assert.equal(response.headers.get('location'), docUrl());
    assert.equal(requests.length, count + 1);
    assert.equal(await response.text(), 'moved');

    const internal = await safeFetch(`https://cimd.test:${port}/redirect-internal`);
    assert.equal(internal.status, 307);
    assert.equal(requests.length, count + 2);
    assert.ok(lookup.calls.every((host) => host === 'cimd.test'), 'only the URL host was resolved, nothing from Location');
    await safeFetch.close();
  });

  test('a declared Content-Length over the cap is refused before reading', async () => {
    const { safeFetch } = localFetch();
    const err = await rejectsWith(safeFetch(`https://cimd.test:${port}/big-declared`), 'TOO_LARGE', /^refusing to fetch https:\/\/cimd\.test:\d+\/big-declared: response body of 10000 bytes exceeds 1000 bytes$/);
    assert.doesNotMatch(err.message, /xxx/);
    await safeFetch.close();
  });

  test('a chunked body is cut off once it passes the cap; exactly the cap is fine', async () => {
    const { safeFetch } = localFetch();
    const response = await safeFetch(`https://cimd.test:${port}/big-chunked`);
    assert.equal(response.status, 200);
    await rejectsWith(response.arrayBuffer(), 'TOO_LARGE', /response body exceeds 1000 bytes/);

    // The way oidc-provider's fetch_body_check reads it.
    const again = await safeFetch(`https://cimd.test:${port}/big-chunked`);
    await rejectsWith(
      (async () => {
        for await (const _chunk of again.body as unknown as AsyncIterable<Uint8Array>) {
          // drain
        }
      })(),
      'TOO_LARGE',
    );

    const exact = await safeFetch(`https://cimd.test:${port}/exactly-1000`);
    assert.equal((await exact.text()).length, 1000);
    await safeFetch.close();
  });

  test('null-body statuses and error statuses come back as they are (bodies are not put in errors)', async () => {
    const { safeFetch } = localFetch();
    const empty = await safeFetch(`https://cimd.test:${port}/no-content`);
    assert.equal(empty.status, 204);
    assert.equal(empty.body, null);
    const missing = await safeFetch(`https://cimd.test:${port}/nope`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    await safeFetch.close();
  });

  test('a server that never answers times out', async () => {
    const { safeFetch } = localFetch({ timeoutMs: 300 });
    const started = Date.now();
    await rejectsWith(safeFetch(`https://cimd.test:${port}/slow-headers`), 'TIMEOUT', /^fetching https:\/\/cimd\.test:\d+\/slow-headers failed: timed out after 300 ms$/);
    assert.ok(Date.now() - started < 3000);
    await safeFetch.close();
  });

  test('a body that stalls times out while being read', async () => {
    const { safeFetch } = localFetch({ timeoutMs: 300 });
    const response = await safeFetch(`https://cimd.test:${port}/slow-body`);
    assert.equal(response.status, 200);
    await rejectsWith(response.text(), 'TIMEOUT', /timed out after 300 ms/);
    await safeFetch.close();
  });

  test("the caller's signal is honoured alongside the timeout", async () => {
    const { safeFetch } = localFetch({ timeoutMs: 10_000 });
    await rejectsWith(safeFetch(`https://cimd.test:${port}/slow-headers`, { signal: AbortSignal.timeout(200) }), 'ABORTED', /caller's timeout expired/);
    const controller = new AbortController();
    const pending = safeFetch(`https://cimd.test:${port}/slow-headers`, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await rejectsWith(pending, 'ABORTED', /aborted by the caller/);
    await safeFetch.close();
  });

  test("oidc-provider's call shape: Headers instance, empty user-agent, its own signal and dispatcher (replaced)", async () => {
    const { safeFetch } = localFetch();
    const headers = new Headers({ accept: 'application/json' });
    headers.set('user-agent', '');
    const bogusDispatcher = { dispatch: () => assert.fail('the caller dispatcher must not be used') };
    const init = { method: 'GET', headers, redirect: 'manual', signal: AbortSignal.timeout(2500), dispatcher: bogusDispatcher } as unknown as RequestInit;
    const response = await safeFetch(`https://cimd.test:${port}/echo`, init);
    assert.equal(response.status, 200);
    const echoed = (await response.json()) as { method: string; headers: Record<string, string> };
    assert.equal(echoed.method, 'GET');
    assert.equal(echoed.headers.accept, 'application/json');
    assert.equal(echoed.headers['user-agent'] ?? '', '');
    await safeFetch.close();
  });

  test('wired into oidc-provider: a Client ID Metadata Document resolves, and a private one is invalid_client', async () => {
    const { safeFetch } = localFetch({ maxBytes: 5 * 1024 });
    const provider = new Provider('https://as.test', {
      features: { clientIdMetadataDocument: { enabled: true, ack: 'draft-02' } } as never,
      fetch: safeFetch,
    });
    const client = await provider.Client.find(docUrl());
    assert.ok(client);
    assert.equal(client.clientId, docUrl());
    assert.deepEqual(client.redirectUris, ['https://app.example/callback']);

    const strict = createSafeFetch({ lookup: scriptedLookup(['127.0.0.1']), connect: { ca } });
    const strictProvider = new Provider('https://as.test', {
      features: { clientIdMetadataDocument: { enabled: true, ack: 'draft-02' } } as never,
      fetch: strict,
    });
    await assert.rejects(strictProvider.Client.find(docUrl()), (err: Error & { error?: string; cause?: unknown }) => {
      assert.equal(err.error, 'invalid_client');
      assert.ok(err.cause instanceof SafeFetchError);
      assert.equal(err.cause.code, 'REFUSED');
      return true;
    });
    await Promise.all([safeFetch.close(), strict.close()]);
  });
});
