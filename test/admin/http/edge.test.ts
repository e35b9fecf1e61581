import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../../src/config/index.js';
import { type OAuthSetup } from '../../helpers/oauth.js';
import { AdminClient, startAdminGateway } from '../../helpers/admin-http.js';
import { startGateway } from '../../helpers/gateway.js';
import { notesServerCommand } from '../../helpers/upstreams.js';

/** Where /admin answers at all: loopback only unless configured, a per-IP limit, off by default; and its config checks. */

let setup: OAuthSetup;

before(async () => {
  setup = await startAdminGateway({ perIp: { requestsPerSecond: 0.1, burst: 6 } });
});
after(async () => {
  await setup?.close();
});

test('a client beyond this machine is refused (admin.allowRemote is off); the local client is served', async () => {
  const remote = await fetch(`${setup.issuer}/admin/api/keys`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
  assert.equal(remote.status, 403);
  const body = (await remote.json()) as { error: string; message: string };
  assert.equal(body.error, 'remote_refused');
  assert.match(body.message, /admin\.allowRemote/);
  const page = await fetch(`${setup.issuer}/admin/login`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
  assert.equal(page.status, 403);
  assert.match(await page.text(), /admin\.allowRemote/);
  assert.equal((await fetch(`${setup.issuer}/admin/login`)).status, 200);
});

test('the per-IP limit answers 429 with Retry-After once the burst is spent; MCP endpoints are not affected', async () => {
  let limited: Response | undefined;
  let text = '';
  for (let i = 0; i < 10 && !limited; i++) {
    const res = await fetch(`${setup.issuer}/admin/login`);
    text = await res.text();
    if (res.status === 429) limited = res;
  }
  assert.ok(limited, 'refused within the burst');
  assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  assert.match(text, /admin\.perIp/);
  const mcp = await fetch(`${setup.issuer}/.well-known/oauth-protected-resource/mcp/notes`);
  assert.equal(mcp.status, 200, 'the rest of the gateway still answers');
});

test('without an admin block, /admin is not served', async () => {
  const gw = await startGateway({ auth: { apiKeys: {} }, authorization: { scopes: { 'notes:read': { tools: ['list_notes'] } } }, upstreams: { notes: { command: notesServerCommand() } } });
  try {
    const res = await fetch(`${gw.url}/admin/api/keys`);
    assert.equal(res.status, 404);
    assert.equal((await new AdminClient(setup.issuer).get('/keys')).status !== 404, true, 'control: with the block it is');
  } finally {
    await gw.close();
  }
});

test('config: the console needs authentication, roles that exist, and TLS before it opens beyond loopback', () => {
  const base = 'upstreams: { notes: { url: "http://127.0.0.1:9/mcp" } }\nauthorization: { scopes: { "notes:read": { tools: [list_notes] } }, roles: { admin: [] } }\n';
  assert.doesNotThrow(() => parseConfigText(`${base}auth: { apiKeys: {} }\nadmin: { roles: [admin] }\n`, 'w.yaml', {}));
  assert.throws(() => parseConfigText(`upstreams: { notes: { url: "http://127.0.0.1:9/mcp" } }\nadmin: { roles: [admin] }\n`, 'w.yaml', {}), /admin.*auth is none/s);
  assert.throws(() => parseConfigText(`${base}auth: { apiKeys: {} }\nadmin: { roles: [root] }\n`, 'w.yaml', {}), /admin\.roles.*'root' is not defined/s);
  assert.throws(() => parseConfigText(`${base}auth: { apiKeys: {} }\nadmin: { roles: [admin], allowRemote: true }\n`, 'w.yaml', {}), /allowRemote.*https publicUrl|TLS/s);
  assert.doesNotThrow(() => parseConfigText(`${base}auth: { apiKeys: {} }\npublicUrl: https://mcp.example.com\nadmin: { roles: [admin], allowRemote: true }\n`, 'w.yaml', {}));
  assert.throws(() => parseConfigText(`${base}auth: { apiKeys: {} }\nadmin: { roles: [] }\n`, 'w.yaml', {}), /at least one role/);
});
