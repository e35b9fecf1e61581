import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { callTool, initialize, postRaw } from '../../helpers/client.js';
import { auditRecords, eventually, PASSWORD, registerClient, type OAuthSetup } from '../../helpers/oauth.js';
import { AdminClient, startAdminGateway, timesShown } from '../../helpers/admin-http.js';
import { API_ROUTES } from '../../../src/admin/http/api-routes.js';

/**
 * The admin JSON API against a real gateway (embedded AS, stdio and HTTP upstreams, SQLite store): each route
 * with its authentication, authorization, validation and paging, and each change in the audit chain under the
 * administrator's name. Refusals are checked with a control that succeeds right after.
 */

let setup: OAuthSetup;
let root: AdminClient;
const secrets: string[] = [];

before(async () => {
  setup = await startAdminGateway();
  root = await AdminClient.signIn(setup.issuer);
});
after(async () => {
  await setup?.close();
});

/** The admin record of `action` on `target`, once committed. */
function adminRecord(action: string, target?: string) {
  return eventually(`${action} record`, async () => (await auditRecords(setup.dbPath)).find((r) => r.event === 'admin' && r.method === action && (target === undefined || r.target === target)));
}

test('without a session or key the API answers 401; signed in, 200', async () => {
  const stranger = new AdminClient(setup.issuer);
  const refused = await stranger.get('/keys');
  assert.equal(refused.status, 401);
  assert.equal(refused.json.error, 'unauthorized');
  assert.match(refused.json.message, /Sign in/);
  assert.equal((await root.get('/keys')).status, 200);
});

test('a user without an admin role is refused the API, recorded; an administrator then signs in', async () => {
  const bob = new AdminClient(setup.issuer);
  const refused = await bob.signIn('bob', PASSWORD);
  assert.equal(refused.status, 403);
  assert.match(refused.json.message, /admin\.roles/);
  assert.equal(refused.headers.get('set-cookie'), null);
  const record = await adminRecord('admin.sign_in');
  assert.ok((await auditRecords(setup.dbPath)).some((r) => r.method === 'admin.sign_in' && r.subject === 'bob' && r.decision === 'deny' && /not an administrator/.test(r.reason)));
  assert.ok(record);
  assert.equal((await AdminClient.signIn(setup.issuer)).csrf !== undefined, true);
});

test('a wrong password gets the generic answer and a deny record; the right one signs in', async () => {
  const client = new AdminClient(setup.issuer);
  const wrong = await client.signIn('root', 'not the password at all');
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json.message, 'Wrong username or password.');
  const unknown = await client.signIn('nobody-here', 'not the password at all');
  assert.equal(unknown.json.message, wrong.json.message, 'an unknown user reads like a wrong password');
  await eventually('deny record', async () => (await auditRecords(setup.dbPath)).find((r) => r.method === 'admin.sign_in' && r.subject === 'nobody-here' && r.reason === 'unknown_user'));
  assert.equal((await client.signIn('root', PASSWORD)).status, 200);
  const cookie = (await new AdminClient(setup.issuer).signIn('root', PASSWORD)).headers.get('set-cookie')!;
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  assert.doesNotMatch(cookie, /Secure/, 'plain http on loopback: not Secure');
});

test('a change without the CSRF token is refused and recorded; with it, it is made', async () => {
  const forged = await root.send('POST', '/keys', { subject: 'carol', scopes: ['notes:read'] }, { csrf: false });
  assert.equal(forged.status, 403);
  assert.equal(forged.json.error, 'csrf');
  await eventually('csrf record', async () => (await auditRecords(setup.dbPath)).find((r) => r.method === 'admin.csrf' && r.subject === 'root' && r.decision === 'deny'));
  const wrong = await root.send('POST', '/keys', { subject: 'carol', scopes: ['notes:read'] }, { csrf: false, headers: { 'x-csrf-token': 'x'.repeat(43) } });
  assert.equal(wrong.status, 403);
  const made = await root.post('/keys', { subject: 'carol', scopes: ['notes:read'] });
  assert.equal(made.status, 201);
  secrets.push(made.json.key);
});

test('keys: create (shown once), list with filters and paging, show, rotate, revoke; the revoked key is refused at once', async () => {
  const created = await root.post('/keys', { subject: 'alice', name: 'laptop', scopes: ['notes:read'], expiresIn: '30d' });
  assert.equal(created.status, 201);
  const { key, view } = created.json;
  secrets.push(key);
  assert.match(key, /^wdn_/);
  const record = await adminRecord('keys.create', view.id);
  assert.equal(record.subject, 'root');
  assert.deepEqual(record.credential.kind, 'admin_session');

  await root.post('/keys', { subject: 'alice', name: 'ci', scopes: ['notes:read'] }).then((a) => secrets.push(a.json.key));
  const first = await root.get('/keys?subject=alice&limit=1');
  assert.equal(first.status, 200);
  assert.equal(first.json.items.length, 1);
  assert.equal(first.json.total, 2);
  assert.equal(first.json.next, '1');
  const second = await root.get(`/keys?subject=alice&limit=1&cursor=${first.json.next}`);
  assert.equal(second.json.items.length, 1);
  assert.equal(second.json.next, undefined);
  assert.notEqual(second.json.items[0].id, first.json.items[0].id);
  assert.equal((await root.get(`/keys/${view.id}`)).json.name, 'laptop');
  assert.equal((await root.get('/keys/nokeyhere000')).status, 404);

  const ok = await callTool(setup.notes, key, 'list_notes');
  assert.equal(ok.status, 200, 'control: the key works before it is revoked');
  const revoked = await root.post(`/keys/${view.id}/revoke`);
  assert.equal(revoked.status, 200);
  assert.equal(revoked.json.status, 'revoked');
  assert.equal((await adminRecord('keys.revoke', view.id)).subject, 'root');
  assert.equal((await initialize(setup.notes, key)).status, 401, 'the very next MCP call with the key is refused');

  const other = (await root.get('/keys?subject=alice')).json.items.find((k: { id: string }) => k.id !== view.id);
  const rotated = await root.post(`/keys/${other.id}/rotate`, { grace: '1m' });
  assert.equal(rotated.status, 201);
  secrets.push(rotated.json.key);
  assert.equal(rotated.json.previous.status, 'grace');
  await adminRecord('keys.rotate', other.id);
  assert.equal((await root.post(`/keys/${other.id}/rotate`, {})).status, 409, 'a rotated key cannot be rotated again');
  assert.equal(rotated.json.view.expiresAt ?? null, null, 'without expiresIn the new key keeps the old one\'s (no) expiry');

  // expiresIn gives the new key a lifetime of its own, as `warden keys rotate --expires` does.
  const expiring = await root.post(`/keys/${rotated.json.view.id}/rotate`, { expiresIn: '30d' });
  assert.equal(expiring.status, 201, JSON.stringify(expiring.json));
  secrets.push(expiring.json.key);
  const lifetime = expiring.json.view.expiresAt - Date.now();
  assert.ok(lifetime > 29 * 86_400_000 && lifetime <= 30 * 86_400_000, `expires in ${lifetime} ms`);
  assert.equal((await root.post(`/keys/${expiring.json.view.id}/rotate`, { expiresIn: '0s' })).status, 400, 'a lifetime of zero is refused');
});

test('validation: unknown scope, unknown field, bad JSON, wrong type, bad paging are 400 naming the field; the next valid request works', async () => {
  const scope = await root.post('/keys', { subject: 'x', scopes: ['nope'] });
  assert.equal(scope.status, 400);
  assert.match(scope.json.message, /unknown scope 'nope'/);
  const extra = await root.post('/keys', { subject: 'x', scopes: ['notes:read'], admin: true });
  assert.equal(extra.status, 400);
  assert.match(extra.json.message, /body/);
  const notJson = await root.send('POST', '/keys', '{"subject":');
  assert.equal(notJson.status, 400);
  assert.match(notJson.json.message, /not valid JSON/);
  const type = await root.post('/keys', { subject: 'x', scopes: 'notes:read' });
  assert.equal(type.status, 400);
  assert.match(type.json.message, /body\.scopes/);
  const paging = await root.get('/keys?limit=0');
  assert.equal(paging.status, 400);
  assert.match(paging.json.message, /query\.limit/);
  const form = await fetch(`${setup.issuer}/admin/api/keys`, { method: 'POST', headers: { cookie: root.cookie!, 'x-csrf-token': root.csrf!, 'content-type': 'text/plain' }, body: 'x' });
  assert.equal(form.status, 415);
  assert.equal((await root.get('/nothing-here')).status, 404);
  assert.equal((await root.send('PUT', '/keys')).status, 405);
  const control = await root.post('/keys', { subject: 'x', scopes: ['notes:read'] });
  assert.equal(control.status, 201);
  secrets.push(control.json.key);
});

test('users: add with a generated password (shown once), list, show, roles, disable, enable, reset password; each recorded', async () => {
  const added = await root.post('/users', { username: 'dave@example.com', roles: ['reader'] });
  assert.equal(added.status, 201);
  secrets.push(added.json.password);
  assert.equal((await adminRecord('users.add', 'dave@example.com')).subject, 'root');
  assert.equal((await root.post('/users', { username: 'dave@example.com', roles: ['reader'] })).status, 409);
  assert.equal((await root.post('/users', { username: 'eve', roles: ['nope'] })).status, 400);
  const listed = await root.get('/users?limit=2');
  assert.equal(listed.json.items.length, 2);
  assert.ok(listed.json.next);
  assert.ok(!listed.text.includes('passwordHash'));
  assert.equal((await root.get('/users/show?username=dave@example.com')).json.user.roles[0], 'reader');
  assert.equal((await root.get('/users/show?username=nobody')).status, 404);
  assert.equal((await root.post('/users/roles', { username: 'dave@example.com', roles: ['writer'] })).json.user.roles[0], 'writer');
  await adminRecord('users.set-roles', 'dave@example.com');
  assert.equal((await root.post('/users/disable', { username: 'dave@example.com' })).status, 200);
  await adminRecord('users.disable', 'dave@example.com');
  assert.equal((await root.post('/users/enable', { username: 'dave@example.com' })).status, 200);
  const reset = await root.post('/users/password', { username: 'dave@example.com' });
  assert.equal(reset.status, 200);
  secrets.push(reset.json.password);
  assert.equal((await adminRecord('users.reset-password', 'dave@example.com')).subject, 'root');
  const weak = await root.post('/users/password', { username: 'dave@example.com', password: 'short' });
  assert.equal(weak.status, 400);
  assert.match(weak.json.message, /too short/);
});

test('clients and grants: list (idle hidden unless asked), show, revoke; grants per user or client', async () => {
  const { client_id: clientId } = await registerClient(setup.issuer, { redirect_uris: ['http://127.0.0.1:9999/cb'], client_name: 'Test app' });
  const idle = await root.get('/clients');
  assert.equal(idle.status, 200);
  assert.ok(idle.json.idle >= 1);
  const all = await root.get('/clients?includeIdle=true');
  assert.ok(all.json.items.some((c: { client_id: string }) => c.client_id === clientId));
  assert.ok(!all.text.includes('client_secret'), 'no client secret, not even its digest');
  assert.equal((await root.get(`/clients/show?id=${encodeURIComponent(clientId)}`)).json.client.client_name, 'Test app');
  assert.equal((await root.get('/clients/show')).status, 400);
  assert.equal((await root.get('/grants?user=alice')).status, 200);
  assert.equal((await root.get('/grants?user=alice&client=x')).status, 400);
  const revoked = await root.post('/clients/revoke', { id: clientId });
  assert.equal(revoked.status, 200);
  assert.equal(revoked.json.removed, true);
  assert.equal((await adminRecord('clients.revoke', clientId)).subject, 'root');
  assert.equal((await root.get(`/clients/show?id=${encodeURIComponent(clientId)}`)).status, 404);
  const tokens = await root.post('/tokens/revoke', { kind: 'user', value: 'bob' });
  assert.equal(tokens.status, 200);
  await adminRecord('tokens.revoke', 'bob');
  assert.equal((await root.post('/tokens/revoke', { kind: 'team', value: 'x' })).status, 400);
});

test('live sessions: listed per upstream and subject, ended by an administrator (recorded); the owner then gets 404 and can start again', async () => {
  const { json } = await root.post('/keys', { subject: 'frank', scopes: ['notes:read'] });
  secrets.push(json.key);
  const call = await callTool(setup.notes, json.key, 'list_notes');
  assert.equal(call.status, 200);
  const sessionId = call.init.headers.get('mcp-session-id')!;
  const listed = await root.get('/sessions?subject=frank');
  assert.equal(listed.json.items.length, 1);
  assert.equal(listed.json.items[0].upstream, 'notes');
  assert.equal(listed.json.items[0].id, sessionId);
  assert.equal((await root.get('/sessions?upstream=nope')).status, 400);
  const ended = await root.post('/sessions/end', { upstream: 'notes', id: sessionId });
  assert.equal(ended.status, 200);
  assert.equal((await adminRecord('sessions.end', sessionId)).subject, 'root');
  const after = await postRaw(setup.notes, JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }), { authorization: `Bearer ${json.key}`, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' });
  assert.equal(after.status, 404);
  assert.equal((await root.post('/sessions/end', { upstream: 'notes', id: sessionId })).status, 404);
  assert.equal((await root.post('/sessions/end', { upstream: 'notes' })).status, 400);
  assert.equal((await callTool(setup.notes, json.key, 'list_notes')).status, 200, 'a new session works');
});

test('audit: filters find a denied call by tool, cursor paging, one record, chain status, export', async () => {
  const { json } = await root.post('/keys', { subject: 'grace', scopes: ['notes:read'] });
  secrets.push(json.key);
  const denied = await callTool(setup.notes, json.key, 'delete_note', { id: 'x' });
  assert.equal(denied.status, 403);
  const found = await eventually('denied record', async () => {
    const a = await root.get('/audit?tool=delete_note&decision=deny&subject=grace');
    return a.json.items.length ? a : undefined;
  });
  assert.equal(found.json.items[0].upstream, 'notes');
  assert.equal((await root.get('/audit?upstream=notes&tool=delete_note&subject=grace')).json.items.length >= 1, true);
  assert.equal((await root.get('/audit?upstream=web&tool=delete_note&subject=grace')).json.items.length, 0, 'the upstream filter filters');
  const page1 = await root.get('/audit?limit=3');
  assert.equal(page1.json.items.length, 3);
  const page2 = await root.get(`/audit?limit=3&cursor=${page1.json.next}`);
  assert.ok(page2.json.items[0].seq < page1.json.items[2].seq, 'the next page is older');
  assert.equal((await root.get('/audit?decision=maybe')).status, 400);
  assert.equal((await root.get('/audit?since=yesterday')).status, 400);
  const one = await root.get(`/audit/${found.json.items[0].seq}?instance=${encodeURIComponent(found.json.items[0].instance)}`);
  assert.equal(one.json.target, 'delete_note');
  assert.equal((await root.get(`/audit/${found.json.items[0].seq}?instance=nobody`)).status, 404, 'another chain has no such record');
  assert.equal((await root.get('/audit/999999999')).status, 404);
  assert.equal((await root.get('/audit/verify')).json.ok, true);
  const exported = await root.get('/audit/export');
  assert.equal(exported.status, 200);
  assert.match(exported.headers.get('content-type')!, /ndjson/);
  assert.ok(exported.text.trim().split('\n').every((l) => Number.isInteger(JSON.parse(l).seq)));
});

test('config summary: what is on, no header or env values', async () => {
  const summary = await root.get('/config');
  assert.equal(summary.status, 200);
  assert.equal(summary.json.scenario, 'local');
  assert.deepEqual(Object.keys(summary.json.upstreams).sort(), ['notes', 'web']);
  assert.deepEqual(summary.json.admin.roles, ['admin']);
});

test('an API key with scope admin works without cookie or CSRF (changes named after its subject); one without the scope is 403, a revoked one 401', async () => {
  const made = await root.post('/keys', { subject: 'automation', scopes: ['admin'] });
  assert.equal(made.status, 201);
  secrets.push(made.json.key);
  const bot = new AdminClient(setup.issuer, made.json.key);
  assert.equal((await bot.get('/keys')).status, 200);
  assert.equal((await callTool(setup.notes, made.json.key, 'list_notes')).status, 403, 'scope admin opens no MCP tool');
  const change = await bot.post('/keys', { subject: 'h', scopes: ['notes:read'] });
  assert.equal(change.status, 201);
  secrets.push(change.json.key);
  const record = await adminRecord('keys.create', change.json.view.id);
  assert.equal(record.subject, 'automation');
  assert.deepEqual(record.credential, { kind: 'api_key', id: made.json.view.id });
  const plain = new AdminClient(setup.issuer, change.json.key);
  const forbidden = await plain.get('/keys');
  assert.equal(forbidden.status, 403);
  assert.match(forbidden.json.message, /scope admin/);
  await eventually('key refusal', async () => (await auditRecords(setup.dbPath)).find((r) => r.method === 'admin.api_key' && r.credential.id === change.json.view.id));
  await root.post(`/keys/${made.json.view.id}/revoke`);
  assert.equal((await bot.get('/keys')).status, 401);
  const garbage = await new AdminClient(setup.issuer, 'wdn_garbage').get('/keys');
  assert.equal(garbage.status, 401);
});

test('sign-out ends the session; the OpenAPI document lists every route with schemas from the validators', async () => {
  const doc = await root.get('/openapi.json');
  assert.equal(doc.json.openapi, '3.1.0');
  for (const r of API_ROUTES) assert.ok(doc.json.paths[`/admin/api${r.path}`]?.[r.method.toLowerCase()], `${r.method} ${r.path} documented`);
  for (const [method, path] of [['post', '/keys/{id}/revoke'], ['post', '/users/disable'], ['post', '/clients/revoke'], ['post', '/tokens/revoke'], ['post', '/sessions/end'], ['post', '/users/password']]) {
    assert.match(doc.json.paths[`/admin/api${path}`][method!].description, /Destructive/, `${path} asks for a recent password`);
  }
  assert.equal(doc.json.paths['/admin/api/users/enable'].post.description, undefined, 'enabling takes nothing away');
  const create = doc.json.paths['/admin/api/keys'].post.requestBody.content['application/json'].schema;
  assert.ok(create.properties.subject && create.properties.scopes);
  const session = await AdminClient.signIn(setup.issuer);
  assert.equal((await session.send('DELETE', '/session', undefined, { csrf: false })).status, 403, 'signing out needs the token too');
  assert.equal((await session.send('DELETE', '/session')).status, 200);
  assert.equal((await session.get('/keys')).status, 401);
  assert.equal((await root.get('/keys')).status, 200, 'another session is not affected');
});

test('a disabled administrator loses the console at once', async () => {
  const other = await root.post('/users', { username: 'ops2', roles: ['admin'], password: 'a long enough password 1' });
  assert.equal(other.status, 201);
  const ops2 = await AdminClient.signIn(setup.issuer, 'ops2', 'a long enough password 1');
  assert.equal((await ops2.get('/keys')).status, 200);
  await root.post('/users/disable', { username: 'ops2' });
  assert.equal((await ops2.get('/keys')).status, 401);
});

test('no secret shown at creation is ever in another answer', () => {
  assert.ok(secrets.length >= 8);
  for (const secret of secrets) assert.equal(timesShown(secret), 1, `secret ${secret.slice(0, 8)}… shown once`);
});
