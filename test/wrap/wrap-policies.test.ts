import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { notesServerCommand } from '../helpers/upstreams.js';
import { SqliteStore } from '../../src/store/index.js';
import { parseAuditRow } from '../../src/audit/index.js';

/** `warden wrap --config` applies the config's Cedar policies: the gateway's policy step, over stdio. */
const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
let dir: string;

before(() => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run \`npx tsc -p tsconfig.json\` first`);
  dir = mkdtempSync(join(tmpdir(), 'warden-wrap-cedar-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('wrap --config: Cedar decides each call, filters lists, and the records name the policies', async () => {
  writeFileSync(join(dir, 'p.cedar'), [
    '@id("lists") permit (principal, action in Action::"lists", resource);',
    '@id("read") permit (principal, action == Action::"call_tool", resource) when { resource.name == "search_notes" || resource.name == "list_notes" };',
    '@id("no-delete") @reason("notes are never deleted through an agent") forbid (principal, action == Action::"call_tool", resource) when { resource.name == "delete_note" };',
    '',
  ].join('\n'));
  const db = join(dir, 'w.db');
  writeFileSync(join(dir, 'w.yaml'), `upstreams: { notes: { url: "http://127.0.0.1:9/mcp" } }\nstore: { sqlite: ${JSON.stringify(db)} }\nauthorization:\n  cedar: { policies: ./p.cedar }\n`);
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'wrap', '--config', join(dir, 'w.yaml'), '--name', 'notes', '--env', 'PATH', '--set-env', `WARDEN_DEMO_NOTES=${join(dir, 'notes.json')}`, '--', ...notesServerCommand()],
    env: { PATH: process.env.PATH ?? '' },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'wrap-cedar-test', version: '1.0.0' });
  await client.connect(transport);
  try {
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name).sort(), ['list_notes', 'search_notes']);
    await client.callTool({ name: 'search_notes', arguments: { query: 'x' } });
    await assert.rejects(client.callTool({ name: 'delete_note', arguments: { id: '1' } }), (err: unknown) => {
      assert.ok(err instanceof McpError);
      assert.equal(err.code, -32003);
      assert.match(err.message, /Forbidden by policy 'no-delete': notes are never deleted through an agent/);
      return true;
    });
    await assert.rejects(client.callTool({ name: 'add_note', arguments: { text: 'x' } }), /no policy permits tool 'add_note'/);
    await client.callTool({ name: 'list_notes', arguments: {} }); // control: the session goes on
  } finally {
    await client.close();
  }
  const store = new SqliteStore(db);
  try {
    const records = (await store.audit.query({ order: 'asc', limit: 100 })).map(parseAuditRow).filter((r) => r.event === 'call' && r.method === 'tools/call');
    assert.deepEqual(records.map((r) => [r.target, r.decision, r.policies?.determining]), [
      ['search_notes', 'allow', ['read']],
      ['delete_note', 'deny', ['no-delete']],
      ['add_note', 'deny', []],
      ['list_notes', 'allow', ['read']],
    ]);
  } finally {
    await store.close();
  }
});
