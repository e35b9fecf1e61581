import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { configSchema } from '../../src/config/index.js';
import { startGateway as start } from '../../src/gateway/index.js';
import { createLogger } from '../../src/shared/log.js';
import { discoverIssuer } from '../../src/resource/issuer-discovery.js';
import { freePort } from '../helpers/client.js';
import { LogCapture, MemoryAudit } from '../helpers/gateway.js';
import { startIdp, tempStore, type TestIdp } from '../helpers/idp.js';

/** Start-up against company IdPs: OIDC discovery, then RFC 8414, the issuer pinned, and a clear error naming the setting. */

const config = (issuer: string, extra: Record<string, unknown> = {}) => configSchema.parse({
  scenario: 'enterprise', listen: { host: '127.0.0.1', port: 0 }, store: tempStore(),
  auth: { jwt: { issuers: [{ issuer, ...extra }] } },
  authorization: { scopes: { 'echo:use': { tools: ['echo'] } } },
  upstreams: { web: { url: 'http://127.0.0.1:9/mcp' } },
});

const open = (c: ReturnType<typeof config>) => start(c, { log: createLogger({ level: 'silent', destination: new LogCapture() }), audit: new MemoryAudit() });

describe('IdP discovery at start-up', () => {
  let idp: TestIdp;
  let rfc8414: Server;
  let rfc8414Url: string;

  before(async () => {
    idp = await startIdp();
    // An OAuth server that serves RFC 8414 metadata only (no OpenID configuration), under an issuer with a path.
    rfc8414 = createServer((req, res) => {
      if (req.url === '/.well-known/oauth-authorization-server/tenant-a') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: `${rfc8414Url}/tenant-a`, jwks_uri: `${idp.issuer}/jwks` }));
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => rfc8414.listen(0, '127.0.0.1', r));
    rfc8414Url = `http://127.0.0.1:${(rfc8414.address() as AddressInfo).port}`;
  });
  after(async () => {
    await idp.close();
    await new Promise((r) => rfc8414.close(r));
  });

  test('OIDC discovery first: the gateway starts and reports the IdP keys as fetched', async () => {
    const gw = await open(config(idp.issuer));
    try {
      const ready = await (await fetch(`${gw.url}/readyz`)).json() as { issuers: { issuer: string; state: string; discovery: string }[] };
      assert.equal(ready.issuers[0]!.state, 'ok');
      assert.match(ready.issuers[0]!.discovery, /openid-configuration$/);
    } finally {
      await gw.close();
    }
  });

  test('then RFC 8414, path inserted', async () => {
    const metadata = await discoverIssuer(`${rfc8414Url}/tenant-a`);
    assert.equal(metadata.jwks_uri, `${idp.issuer}/jwks`);
    assert.match(metadata.source, /oauth-authorization-server\/tenant-a$/);
  });

  test('refused at start-up: nobody answers at the issuer, and the error names the setting', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    await assert.rejects(open(config(dead)), /auth\.jwt\.issuers\[0\]\.issuer: could not discover/);
  });

  test('refused at start-up: the discovery document names another issuer', async () => {
    await assert.rejects(open(config(`${idp.issuer}/`)), /auth\.jwt\.issuers\[0\]\.issuer: .* names issuer "http:\/\/127\.0\.0\.1:\d+", not/);
  });

  test('a configured jwksUri skips discovery', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const gw = await open(config(dead, { jwksUri: `${idp.issuer}/jwks` }));
    await gw.close();
  });
});
