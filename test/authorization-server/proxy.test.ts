import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startOAuthGateway, REDIRECT, type OAuthSetup } from '../helpers/oauth.js';
import { codeRequest, pkcePair } from '../helpers/oauth-flow.js';

/**
 * Behind a TLS-terminating proxy (publicUrl https://…, the gateway itself on plain HTTP): everything is named
 * under the public URL, and the sign-in cookies are Secure.
 */

const PUBLIC = 'https://mcp.example.com';
let setup: OAuthSetup;

before(async () => {
  setup = await startOAuthGateway({}, { publicUrl: PUBLIC });
});
after(async () => {
  await setup?.close();
});

/** What the proxy forwards: the public Host and the scheme the client used. */
function viaProxy(path: string, init: { method?: string; body?: string; type?: string } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const gateway = new URL(setup.issuer);
  return new Promise((resolve, reject) => {
    const req = request({
      host: gateway.hostname, port: gateway.port, path, method: init.method ?? 'GET',
      headers: { host: 'mcp.example.com', 'x-forwarded-proto': 'https', ...(init.type ? { 'content-type': init.type } : {}) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

test('behind a TLS proxy: metadata names the public https URLs, and the sign-in cookies are Secure', async () => {
  const metadata = JSON.parse((await viaProxy('/.well-known/oauth-authorization-server')).text) as Record<string, string>;
  assert.equal(metadata.issuer, PUBLIC);
  assert.equal(metadata.token_endpoint, `${PUBLIC}/oauth/token`);
  const prm = JSON.parse((await viaProxy('/.well-known/oauth-protected-resource/mcp/notes')).text) as { resource: string; authorization_servers: string[] };
  assert.deepEqual([prm.resource, prm.authorization_servers], [`${PUBLIC}/mcp/notes`, [PUBLIC]]);

  const registered = await viaProxy('/oauth/register', {
    method: 'POST', type: 'application/json',
    body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', client_name: 'proxied' }),
  });
  assert.equal(registered.status, 201, registered.text);
  const { client_id } = JSON.parse(registered.text) as { client_id: string };
  const authorize = new URL(codeRequest(PUBLIC, client_id, pkcePair(), { scope: 'notes:read', resource: `${PUBLIC}/mcp/notes` }));
  const answer = await viaProxy(`${authorize.pathname}${authorize.search}`);
  assert.equal(answer.status, 303, answer.text);
  assert.match(String(answer.headers.location), /^\/oauth\/interaction\/|^https:\/\/mcp\.example\.com\/oauth\/interaction\//);
  const cookies = [answer.headers['set-cookie'] ?? []].flat();
  assert.ok(cookies.length > 0);
  for (const cookie of cookies) assert.match(cookie, /; secure/i, cookie.split('=')[0]);
});

test('the authorization server spends the per-IP request budget too: 429 with Retry-After once it is gone', async () => {
  const limited = await startOAuthGateway({}, { rateLimit: { perIp: { requestsPerSecond: 0.1, burst: 3 } } });
  try {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${limited.issuer}/.well-known/oauth-authorization-server`);
      statuses.push(res.status);
      retryAfter = res.headers.get('retry-after');
      await res.arrayBuffer();
    }
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    assert.ok(Number(retryAfter) > 0);
  } finally {
    await limited.close();
  }
});
