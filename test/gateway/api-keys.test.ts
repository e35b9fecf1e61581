import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startHttpUpstream, notesServerCommand, type RunningHttpUpstream } from '../helpers/upstreams.js';
import { connectClient, postRaw, INITIALIZE } from '../helpers/client.js';
import { keyedSetup, createKey, bearer } from '../helpers/keys.js';
import { SqliteStore } from '../../src/store/index.js';
import { ApiKeys, generateApiKey } from '../../src/credentials/index.js';
import type { ConfigInput } from '../../src/config/index.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

const AUTHORIZATION: ConfigInput['authorization'] = {
  scopes: {
    'echo:use': { upstreams: ['web'], tools: ['echo'], prompts: ['greet'] },
    'web:read': { upstreams: ['web'], resources: ['test://*'] },
    'admin:secret': { upstreams: ['web'], tools: ['secret_tool'] },
    'notes:read': { upstreams: ['notes'], tools: ['list_notes', 'search_notes', 'get_note'], resources: ['note://*'] },
    'notes:write': { upstreams: ['notes'], tools: ['add_note', 'delete_note'] },
  },
  roles: { reader: ['notes:read', 'web:read'] },
};

/** Runs a key operation on the store through a second connection, as `warden keys` does while the gateway runs. */
async function onStore<T>(dbPath: string, op: (keys: ApiKeys) => Promise<T>): Promise<T> {
  const store = new SqliteStore(dbPath);
  try {
    return await op(new ApiKeys(store.apiKeys));
  } finally {
    await store.close();
  }
}

describe('API keys and per-tool authorization through the gateway', () => {
  let upstream: RunningHttpUpstream;
  let gw: TestGateway;
  let setup: ReturnType<typeof keyedSetup>;
  let configFile: string;
  let alice: { id: string; key: string };
  let web: string;

  before(async () => {
    upstream = await startHttpUpstream({ stateful: true, json: false });
    setup = keyedSetup();
    alice = await createKey(setup.dbPath, { subject: 'alice', scopes: ['echo:use'], roles: ['reader'] });
    const input: ConfigInput = {
      ...setup.config,
      authorization: AUTHORIZATION,
      rateLimit: { perIp: false },
      upstreams: {
        web: { url: upstream.url },
        notes: { command: notesServerCommand(), env: ['PATH'], setEnv: { WARDEN_DEMO_NOTES: join(setup.dir, 'notes.json') } },
      },
    };
    // The same settings as a file, for the CLI.
    configFile = join(setup.dir, 'warden.yaml');
    writeFileSync(configFile, JSON.stringify({ ...input, upstreams: { web: { url: upstream.url }, notes: { command: ['node', 'x.js'] } } }));
    gw = await startGateway(input);
    web = `${gw.url}/mcp/web`;
  });

  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('a valid key: the SDK client sees only what its scopes open, and calls an allowed tool', async () => {
    const { client } = await connectClient(web, bearer(alice.key));
    const tools = await client.listTools();
    assert.deepEqual(tools.tools.map((t) => t.name), ['echo']);
    const called = await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    assert.deepEqual(called.content, [{ type: 'text', text: 'hi' }]);
    assert.deepEqual((await client.listResources()).resources.map((r) => r.uri), ['test://readme']);
    assert.deepEqual((await client.listPrompts()).prompts.map((p) => p.name), ['greet']);
    await client.close();

    const notes = await connectClient(`${gw.url}/mcp/notes`, bearer(alice.key));
    assert.deepEqual((await notes.client.listTools()).tools.map((t) => t.name).sort(), ['get_note', 'list_notes', 'search_notes']);
    await notes.client.close();
  });

  test('every refused credential gets 401 with the RFC 6750 / RFC 9728 challenge, and reaches no upstream', async () => {
    const expired = await createKey(setup.dbPath, { subject: 'eve', scopes: ['echo:use'], expiresAt: Date.now() + 150 });
    const revoked = await createKey(setup.dbPath, { subject: 'rob', scopes: ['echo:use'] });
    await onStore(setup.dbPath, (k) => k.revoke(revoked.id));
    const rotated = await createKey(setup.dbPath, { subject: 'rot', scopes: ['echo:use'] });
    await onStore(setup.dbPath, (k) => k.rotate(rotated.id, 0));
    await new Promise((r) => setTimeout(r, 200));
    const flip = (s: string) => s.slice(0, -1) + (s.endsWith('A') ? 'B' : 'A');
    const metadata = `${gw.url}/.well-known/oauth-protected-resource/mcp/web`;
    const seenBefore = upstream.seen.length;
    const cases: [string, Record<string, string>, boolean][] = [
      ['missing', {}, false],
      ['malformed', { authorization: 'Bearer not-a-key' }, true],
      ['other scheme', { authorization: 'Basic YWxpY2U6c2VjcmV0' }, true],
      ['wrong checksum', bearer(flip(alice.key)), true],
      ['unknown', bearer(generateApiKey().key), true],
      ['expired', bearer(expired.key), true],
      ['revoked', bearer(revoked.key), true],
      ['rotated past grace', bearer(rotated.key), true],
    ];
    for (const [name, headers, sent] of cases) {
      const res = await postRaw(web, JSON.stringify(INITIALIZE), headers);
      assert.equal(res.status, 401, name);
      const challenge = res.headers.get('www-authenticate') ?? '';
      assert.match(challenge, /^Bearer realm="mcp"/, name);
      assert.ok(challenge.includes(`resource_metadata="${metadata}"`), `${name}: ${challenge}`);
      assert.equal(challenge.includes('error="invalid_token"'), sent, `${name}: error only when a credential was sent`);
      assert.equal(res.json.error.data.error, 'unauthorized', name);
      // The body is not read before the caller is authenticated, so the answer cannot name the request's id.
      assert.equal(res.json.id, null, `${name}: the body was not read`);
    }
    assert.equal(upstream.seen.length, seenBefore, 'no refused request reached the upstream');
    const messages = await Promise.all(cases.map(async ([, headers]) => (await postRaw(web, JSON.stringify(INITIALIZE), headers)).json.error.message as string));
    assert.match(messages[3]!, /checksum/);
    assert.match(messages[5]!, /expired/);
    assert.match(messages[6]!, /revoked/);
    assert.match(messages[7]!, /rotated/);
  });

  test('a key in the query string is refused, and appears in no log line', async () => {
    for (const query of [`?api_key=${alice.key}`, `?access_token=${alice.key}`, `?x=${alice.key}`]) {
      const res = await postRaw(`${web}${query}`, JSON.stringify(INITIALIZE), bearer(alice.key));
      assert.equal(res.status, 400, query.slice(0, 12));
      assert.equal(res.json.error.data.error, 'credential_in_url');
      assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_request"/);
      assert.match(res.json.error.message, /Authorization: Bearer/);
    }
    assert.ok(!gw.logs.text.includes(alice.key.slice(16)), 'the secret is not in the log');
  });

  test('a tool outside the scopes: 403 insufficient_scope naming the scope, and the upstream saw nothing of it', async () => {
    const { client, transport } = await connectClient(web, bearer(alice.key));
    const call = { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'secret_tool', arguments: {} } };
    const res = await postRaw(web, JSON.stringify(call), { ...bearer(alice.key), 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-06-18' });
    assert.equal(res.status, 403);
    assert.equal(res.json.error.data.error, 'insufficient_scope');
    assert.match(res.json.error.message, /needs scope admin:secret/);
    const challenge = res.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /^Bearer realm="mcp", error="insufficient_scope", scope="admin:secret", resource_metadata="/);
    await assert.rejects(client.callTool({ name: 'secret_tool', arguments: {} }), /admin:secret/);
    assert.ok(!upstream.seen.some((s) => JSON.stringify(s.body ?? '').includes('secret_tool')), 'the upstream never saw the refused call');
    // A tool no scope opens at all: insufficient_scope without a scope to ask for.
    const none = await postRaw(web, JSON.stringify({ ...call, params: { name: 'hang', arguments: {} } }), { ...bearer(alice.key), 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-06-18' });
    assert.equal(none.status, 403);
    assert.doesNotMatch(none.headers.get('www-authenticate') ?? '', /scope=/);
    await client.close();
  });

  test('scopes are per upstream: a notes scope opens nothing on web', async () => {
    const writer = await createKey(setup.dbPath, { subject: 'wendy', scopes: ['notes:write'] });
    const { client } = await connectClient(web, bearer(writer.key));
    assert.deepEqual((await client.listTools()).tools, []);
    await client.close();
    const notes = await connectClient(`${gw.url}/mcp/notes`, bearer(writer.key));
    assert.deepEqual((await notes.client.listTools()).tools.map((t) => t.name).sort(), ['add_note', 'delete_note']);
    await notes.client.close();
  });

  test('revocation with the CLI while the gateway runs holds on the very next request', async () => {
    const bob = await createKey(setup.dbPath, { subject: 'bob', scopes: ['echo:use'] });
    const { client } = await connectClient(web, bearer(bob.key));
    await client.callTool({ name: 'echo', arguments: { text: 'before' } });
    const { stdout } = await run(process.execPath, [CLI, 'keys', 'revoke', bob.id, '--config', configFile, '--json']);
    assert.equal(JSON.parse(stdout).status, 'revoked');
    await assert.rejects(client.callTool({ name: 'echo', arguments: { text: 'after' } }), /401|revoked|Unauthorized/i);
    await client.close().catch(() => {});
  });

  test('RFC 9728 metadata for each upstream names its resource and scopes', async () => {
    const doc = await (await fetch(`${gw.url}/.well-known/oauth-protected-resource/mcp/web`)).json();
    assert.deepEqual(doc, {
      resource: `${gw.url}/mcp/web`,
      scopes_supported: ['admin:secret', 'echo:use', 'web:read'],
      bearer_methods_supported: ['header'],
      resource_name: "MCP server 'web' behind mcp-warden",
    });
    const notes = (await (await fetch(`${gw.url}/.well-known/oauth-protected-resource/mcp/notes`)).json()) as { scopes_supported: string[] };
    assert.deepEqual(notes.scopes_supported, ['notes:read', 'notes:write']);
    assert.equal((await fetch(`${gw.url}/.well-known/oauth-protected-resource/mcp/nope`)).status, 404);
  });

  test('failed authentications leave audit records with the key id, never the key', async () => {
    const before = gw.audit.records.length;
    await postRaw(web, JSON.stringify(INITIALIZE), bearer(generateApiKey().key));
    const record = gw.audit.records.slice(before).find((r) => r.decision === 'deny');
    assert.ok(record);
    assert.equal(record.method, 'HTTP POST', 'the body of an unauthenticated request is not read');
    assert.equal(record.credential.kind, 'api_key');
    assert.match(record.reason, /authentication failed: invalid_token/);
    assert.ok(record.credential.id.length === 12);
  });

  test('a whole session leaves the secret in no log line, no audit record and not in the store file', async () => {
    const carol = await createKey(setup.dbPath, { subject: 'carol', scopes: ['echo:use', 'notes:write'], roles: ['reader'] });
    for (const path of ['web', 'notes']) {
      const { client } = await connectClient(`${gw.url}/mcp/${path}`, bearer(carol.key));
      await client.listTools();
      if (path === 'web') {
        await client.callTool({ name: 'echo', arguments: { text: 'x' } });
        await client.callTool({ name: 'secret_tool', arguments: {} }).catch(() => {});
      } else {
        await client.callTool({ name: 'add_note', arguments: { title: 't', body: 'b' } });
      }
      await client.close();
    }
    await postRaw(`${web}?token=${carol.key}`, JSON.stringify(INITIALIZE));
    await onStore(setup.dbPath, (k) => k.revoke(carol.id));
    await postRaw(web, JSON.stringify(INITIALIZE), bearer(carol.key));
    const secret = carol.key.slice(16, 59);
    gw.gateway.server.closeIdleConnections();
    assert.ok(!gw.logs.text.includes(secret), 'not in the log');
    assert.ok(!JSON.stringify(gw.audit.records).includes(secret), 'not in the audit records');
    for (const file of [setup.dbPath, `${setup.dbPath}-wal`]) {
      if (!existsSync(file)) continue;
      const bytes = readFileSync(file);
      assert.ok(!bytes.includes(secret), `not in ${file}`);
      assert.ok(!bytes.includes(carol.key), `not in ${file}`);
    }
    assert.ok(gw.logs.lines.length > 20, 'the log did record the session');
  });
});
