import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { everythingCommand, notesServerCommand } from '../helpers/upstreams.js';
import { startGateway } from '../helpers/gateway.js';
import { connectClient } from '../helpers/client.js';
import { SqliteStore } from '../../src/store/index.js';
import { parseAuditRow, verifyAuditChain, verifyAuditChains } from '../../src/audit/index.js';

/**
 * `warden wrap` end to end: the built CLI (dist/) is run as a child process, driven by the real SDK client over
 * stdio, in front of real stdio MCP servers (server-everything, the demo notes server, and a small SDK server
 * written here that records every byte it receives, to prove what never reached it).
 */

const require = createRequire(import.meta.url);
const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const FORBIDDEN = -32003;

let dir: string;
const running = new Set<ChildProcess>();

before(() => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run \`npx tsc -p tsconfig.json\` first`);
  dir = mkdtempSync(join(tmpdir(), 'warden-wrap-'));
  // A stdio MCP server (SDK) that appends everything it reads on stdin to a file and writes its pid beside it.
  writeFileSync(join(dir, 'recorder.cjs'), `
const { appendFileSync, writeFileSync } = require('node:fs');
const { McpServer } = require(${JSON.stringify(require.resolve('@modelcontextprotocol/sdk/server/mcp.js'))});
const { StdioServerTransport } = require(${JSON.stringify(require.resolve('@modelcontextprotocol/sdk/server/stdio.js'))});
const { z } = require(${JSON.stringify(require.resolve('zod'))});
const log = process.argv[2];
writeFileSync(log + '.pid', String(process.pid));
appendFileSync(log, '');
process.stdin.on('data', (chunk) => appendFileSync(log, chunk));
const server = new McpServer({ name: 'recorder', version: '1.0.0' });
server.registerTool('safe_echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: 'text', text }] }));
server.registerTool('danger', { inputSchema: { text: z.string() } }, async () => ({ content: [{ type: 'text', text: 'boom' }] }));
process.stderr.write('recorder: ready\\n');
server.connect(new StdioServerTransport()).catch((err) => { console.error(err); process.exit(1); });
`);
});

after(() => {
  for (const child of running) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function recorderCommand(log: string): string[] {
  return [process.execPath, join(dir, 'recorder.cjs'), log];
}

interface Wrapped {
  client: Client;
  stderr: () => string;
  /** Closes the client (which closes warden's stdin) and waits for warden to exit. */
  close(): Promise<void>;
}

/** Starts `warden wrap <flags> -- <upstream>` and connects a real SDK client to it over stdio. */
async function wrap(flags: string[], upstream: string[], env: Record<string, string> = {}): Promise<Wrapped> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'wrap', ...flags, '--', ...upstream],
    env: { PATH: process.env.PATH ?? '', ...env },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const client = new Client({ name: 'warden-wrap-test', version: '1.0.0' });
  try {
    await client.connect(transport);
  } catch (err) {
    await transport.close().catch(() => {});
    throw new Error(`could not connect through warden wrap: ${(err as Error).message}\n${stderr}`);
  }
  return { client, stderr: () => stderr, close: () => client.close() };
}

/** Runs the test body with a wrapped session and always ends it. */
async function withWrap(flags: string[], upstream: string[], body: (w: Wrapped) => Promise<void>, env: Record<string, string> = {}): Promise<string> {
  const w = await wrap(flags, upstream, env);
  try {
    await body(w);
  } finally {
    await w.close();
  }
  return w.stderr();
}

async function assertForbidden(call: Promise<unknown>, what: RegExp): Promise<void> {
  await assert.rejects(call, (err: unknown) => {
    assert.ok(err instanceof McpError, `expected an McpError, got ${String(err)}`);
    assert.equal(err.code, FORBIDDEN);
    assert.deepEqual(err.data, { error: 'forbidden' });
    assert.match(err.message, what);
    assert.match(err.message, /is not allowed on upstream/);
    return true;
  });
}

const text = (result: unknown) => ((result as { content: { type: string; text?: string }[] }).content[0]?.text ?? '');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** warden run by hand with raw stdin/stdout, for what the SDK client cannot send (garbage, signals). */
class RawWarden {
  readonly proc: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  private tail = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], env: Record<string, string> = { PATH: process.env.PATH ?? '' }) {
    this.proc = spawn(process.execPath, [CLI, 'wrap', ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    running.add(this.proc);
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => {
      running.delete(this.proc);
      resolve({ code, signal });
    }));
    this.proc.stdout!.on('data', (chunk: Buffer) => {
      const parts = (this.tail + chunk.toString('utf8')).split('\n');
      this.tail = parts.pop() ?? '';
      this.lines.push(...parts);
    });
    this.proc.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString('utf8')));
    this.proc.stdin!.on('error', () => {});
  }

  send(line: string): void {
    this.proc.stdin!.write(`${line}\n`);
  }

  /** The next stdout message (parsed) that satisfies `match`, waiting for it. */
  async message(match: (m: any) => boolean): Promise<any> {
    let found: any;
    await waitFor(() => {
      found = this.lines.map((l) => JSON.parse(l)).find(match);
      return found !== undefined;
    });
    return found;
  }
}

describe('warden wrap', () => {
  test('filters tools/list to the allow-list, answers allowed calls and refuses the others itself', async () => {
    // Unrestricted first, to know the server's real tool names.
    let all: string[] = [];
    await withWrap([], everythingCommand(), async ({ client }) => {
      all = (await client.listTools()).tools.map((t) => t.name);
    });
    assert.ok(all.includes('echo') && all.includes('get-sum') && all.includes('get-env'), `server-everything tools: ${all.join(', ')}`);

    const stderr = await withWrap(['--allow-tool', 'echo', '--allow-tool', 'get-s?m'], everythingCommand(), async ({ client }) => {
      const names = (await client.listTools()).tools.map((t) => t.name).sort();
      assert.deepEqual(names, ['echo', 'get-sum']);
      assert.match(text(await client.callTool({ name: 'echo', arguments: { message: 'hi there' } })), /hi there/);
      assert.match(text(await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } })), /5/);
      await assertForbidden(client.callTool({ name: 'get-env', arguments: {} }), /tool 'get-env'/);
      // Prompts and resources were not restricted, so they pass unfiltered.
      assert.ok((await client.listPrompts()).prompts.length >= 2);
      // The session goes on after a refusal.
      assert.match(text(await client.callTool({ name: 'echo', arguments: { message: 'still here' } })), /still here/);
    });
    // The child's stderr reaches warden's stderr.
    assert.match(stderr, /Starting default \(STDIO\) server/);
  });

  test('a refused call never reaches the child (the child records every byte it reads)', async () => {
    const log = join(dir, 'recorder-refused.log');
    await withWrap(['--allow-tool', 'safe_*'], recorderCommand(log), async ({ client }) => {
      assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ['safe_echo']);
      await assertForbidden(client.callTool({ name: 'danger', arguments: { text: 'MARK-danger' } }), /tool 'danger'/);
      assert.equal(text(await client.callTool({ name: 'safe_echo', arguments: { text: 'MARK-safe' } })), 'MARK-safe');
    });
    const received = readFileSync(log, 'utf8');
    assert.match(received, /"tools\/list"/);
    assert.match(received, /MARK-safe/);
    assert.doesNotMatch(received, /danger/);
    // warden's stdin closing ended the child too.
    const pid = Number(readFileSync(`${log}.pid`, 'utf8'));
    await waitFor(() => !alive(pid));
  });

  test('notes server: delete_note refused leaves the note; allowed in a second wrap, it deletes it', async () => {
    const notes = join(dir, 'notes.json');
    const common = ['--set-env', `WARDEN_DEMO_NOTES=${notes}`, '--allow-tool', 'list_notes'];
    await withWrap([...common, '--allow-tool', 'get_note'], notesServerCommand(), async ({ client }) => {
      const names = (await client.listTools()).tools.map((t) => t.name).sort();
      assert.deepEqual(names, ['get_note', 'list_notes']);
      await assertForbidden(client.callTool({ name: 'delete_note', arguments: { id: 'welcome' } }), /tool 'delete_note'/);
      assert.match(text(await client.callTool({ name: 'list_notes', arguments: {} })), /^welcome:/m);
    });
    await withWrap([...common, '--allow-tool', 'delete_note'], notesServerCommand(), async ({ client }) => {
      // Still there: the refused call in the first session did not run.
      assert.match(text(await client.callTool({ name: 'list_notes', arguments: {} })), /^welcome:/m);
      assert.equal(text(await client.callTool({ name: 'delete_note', arguments: { id: 'welcome' } })), 'Deleted welcome');
      assert.doesNotMatch(text(await client.callTool({ name: 'list_notes', arguments: {} })), /^welcome:/m);
    });
  });

  test('resource and prompt allow-lists filter lists, templates and reads', async () => {
    const flags = [
      '--allow-resource', 'demo://resource/static/document/a*',
      '--allow-resource', 'demo://resource/dynamic/text/*',
      '--allow-prompt', 'simple-prompt',
    ];
    await withWrap(flags, everythingCommand(), async ({ client }) => {
      assert.deepEqual((await client.listResources()).resources.map((r) => r.uri), ['demo://resource/static/document/architecture.md']);
      assert.deepEqual((await client.listResourceTemplates()).resourceTemplates.map((r) => r.uriTemplate), ['demo://resource/dynamic/text/{resourceId}']);
      const read = await client.readResource({ uri: 'demo://resource/static/document/architecture.md' });
      assert.ok(read.contents.length > 0);
      const dynamic = await client.readResource({ uri: 'demo://resource/dynamic/text/1' });
      assert.match(String((dynamic.contents[0] as { text?: string }).text), /Resource 1/);
      await assertForbidden(client.readResource({ uri: 'demo://resource/static/document/features.md' }), /resource 'demo:\/\/resource\/static\/document\/features\.md'/);
      await assertForbidden(client.readResource({ uri: 'demo://resource/dynamic/blob/1' }), /resource/);

      assert.deepEqual((await client.listPrompts()).prompts.map((p) => p.name), ['simple-prompt']);
      assert.ok((await client.getPrompt({ name: 'simple-prompt' })).messages.length > 0);
      await assertForbidden(client.getPrompt({ name: 'args-prompt', arguments: { city: 'Paris' } }), /prompt 'args-prompt'/);

      // Tools were not restricted.
      assert.ok((await client.listTools()).tools.some((t) => t.name === 'get-env'));
    });
  });

  test('only the variables named with --env (plus --set-env) reach the child, not even PATH', async () => {
    const env = { WARDEN_WRAP_PASSED: 'passed-value', WARDEN_WRAP_SECRET: 'secret-value', HOME: '/home/somebody' };
    await withWrap(['--env', 'WARDEN_WRAP_PASSED', '--env', 'WARDEN_WRAP_UNSET', '--set-env', 'WARDEN_WRAP_SET=a=b'], everythingCommand(), async ({ client }) => {
      const seen = JSON.parse(text(await client.callTool({ name: 'get-env', arguments: {} }))) as Record<string, string>;
      assert.deepEqual(seen, { WARDEN_WRAP_PASSED: 'passed-value', WARDEN_WRAP_SET: 'a=b' });
    }, env);
  });

  test('the audit file has one JSON line per request, with decisions and without tool arguments', async () => {
    const log = join(dir, 'recorder-audit.log');
    const auditFile = join(dir, 'audit', 'wrap.jsonl'); // the directory does not exist yet
    await withWrap(['--allow-tool', 'safe_echo', '--audit-file', auditFile], recorderCommand(log), async ({ client }) => {
      await client.listTools();
      await client.callTool({ name: 'safe_echo', arguments: { text: 'ARG-MARKER-allowed' } });
      await assertForbidden(client.callTool({ name: 'danger', arguments: { text: 'ARG-MARKER-denied' } }), /danger/);
      await client.ping();
    });
    assert.equal(statSync(auditFile).mode & 0o777, 0o600);
    const raw = readFileSync(auditFile, 'utf8');
    assert.doesNotMatch(raw, /ARG-MARKER/);
    const lines = raw.split('\n').filter(Boolean);
    const records = lines.map((l) => JSON.parse(l));
    assert.deepEqual(
      records.map((r) => [r.method, r.target, r.decision]),
      [
        ['initialize', undefined, 'allow'],
        ['tools/list', undefined, 'allow'],
        ['tools/call', 'safe_echo', 'allow'],
        ['tools/call', 'danger', 'deny'],
        // ping names nothing and gets no record
      ],
    );
    for (const r of records) {
      assert.equal(r.subject, 'anonymous');
      assert.deepEqual(r.credential, { kind: 'none', id: '-' });
      assert.equal(r.upstream, basename(process.execPath));
      assert.ok(!Number.isNaN(Date.parse(r.ts)));
      assert.equal(typeof r.requestId, 'string');
      assert.equal(typeof r.reason, 'string');
    }
    assert.equal(records[0].reason, 'no target');
    assert.equal(records[2].reason, 'allow-list');
    assert.equal(records[3].reason, 'tool not on the allow-list');
    assert.equal(records[3].targetKind, 'tool');
  });

  test('garbage on stdin gets a parse error and the session goes on; stdout carries only JSON-RPC', async () => {
    const log = join(dir, 'recorder-raw.log');
    const warden = new RawWarden(['--allow-tool', 'safe_echo', '--', ...recorderCommand(log)]);
    warden.send('this is not json');
    const parseError = await warden.message((m) => m.error?.code === -32700);
    assert.deepEqual({ jsonrpc: parseError.jsonrpc, id: parseError.id }, { jsonrpc: '2.0', id: null });
    warden.send('{"hello":"json but not JSON-RPC"}');
    const invalid = await warden.message((m) => m.error?.code === -32600);
    assert.equal(invalid.id, null);

    warden.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }));
    const init = await warden.message((m) => m.id === 1);
    assert.equal(init.result.serverInfo.name, 'recorder');
    warden.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    warden.send('{ still garbage');
    warden.send(JSON.stringify({ jsonrpc: '2.0', id: 'two', method: 'tools/list' }));
    const list = await warden.message((m) => m.id === 'two');
    assert.deepEqual(list.result.tools.map((t: { name: string }) => t.name), ['safe_echo']);
    warden.send(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'danger', arguments: {} } }));
    const denied = await warden.message((m) => m.id === 3);
    assert.equal(denied.error.code, FORBIDDEN);
    assert.deepEqual(denied.error.data, { error: 'forbidden' });
    assert.equal(warden.lines.filter((l) => l.includes('"code":-32700')).length, 2);
    assert.doesNotMatch(readFileSync(log, 'utf8'), /garbage|danger|hello/); // the child saw none of it

    // SIGTERM to warden stops the child and ends warden.
    const pid = Number(readFileSync(`${log}.pid`, 'utf8'));
    assert.ok(alive(pid));
    warden.proc.kill('SIGTERM');
    const { code } = await warden.exited;
    assert.equal(code, 143);
    await waitFor(() => !alive(pid));
    for (const line of warden.lines) assert.doesNotThrow(() => JSON.parse(line), `not JSON on stdout: ${line}`);
    assert.match(warden.stderr, /recorder: ready/);
  });

  test('attack: a reused id in flight is refused, so the list answer cannot arrive unfiltered under the other request', async () => {
    const log = join(dir, 'recorder-ids.log');
    const warden = new RawWarden(['--allow-tool', 'safe_echo', '--', ...recorderCommand(log)]);
    try {
      warden.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }));
      await warden.message((m) => m.id === 1);
      warden.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
      // Both in one write: the second is read while the first is still in flight.
      warden.send(`${JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/list' })}\n${JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'safe_echo', arguments: { text: 'x' } } })}`);
      const refused = await warden.message((m) => m.id === 5 && m.error?.data?.error === 'request_id_in_use');
      assert.match(refused.error.message, /already in use/);
      const list = await warden.message((m) => m.id === 5 && m.result?.tools);
      assert.deepEqual(list.result.tools.map((t: { name: string }) => t.name), ['safe_echo'], 'the list is filtered');
      warden.send(JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'safe_echo', arguments: { text: 'again' } } }));
      const reused = await warden.message((m) => m.id === 5 && m.result?.content);
      assert.equal(reused.result.content[0].text, 'again', 'once answered, the id may be used again');
    } finally {
      warden.proc.kill('SIGTERM');
      await warden.exited;
    }
  });

  test("the child's exit ends warden with its exit code; a signal counts as 1", async () => {
    const seven = new RawWarden(['--', process.execPath, '-e', 'process.exit(7)']);
    assert.equal((await seven.exited).code, 7);
    const killed = new RawWarden(['--', process.execPath, '-e', 'process.kill(process.pid, "SIGKILL")']);
    assert.equal((await killed.exited).code, 1);
    assert.deepEqual([...seven.lines, ...killed.lines], []);
  });

  test('usage errors: no command is exit 2; a command that cannot start is exit 1 with advice', async () => {
    const none = new RawWarden(['--allow-tool', 'x']);
    assert.equal((await none.exited).code, 2);
    assert.match(none.stderr, /after "--"/);

    const missing = new RawWarden(['--', 'warden-no-such-mcp-server']);
    assert.equal((await missing.exited).code, 1);
    assert.match(missing.stderr, /could not start "warden-no-such-mcp-server"/);
    assert.match(missing.stderr, /absolute path/);
    assert.match(missing.stderr, /--env PATH/);
    assert.deepEqual([...none.lines, ...missing.lines], []);

    const badSet = new RawWarden(['--set-env', 'NOVALUE', '--', process.execPath]);
    assert.equal((await badSet.exited).code, 2);
    assert.match(badSet.stderr, /NAME=VALUE/);
  });

  test('with --store, each request is a record in the same hash chain as a gateway writing to that store at the same time', async () => {
    const dbPath = join(dir, 'shared.db');
    const gw = await startGateway({ store: { sqlite: dbPath }, audit: { log: false, instance: 'gateway-1' }, upstreams: { notes: { command: notesServerCommand() } } }, [], { configuredAudit: true });
    try {
      const viaGateway = await connectClient(`${gw.url}/mcp/notes`);
      await viaGateway.client.listTools();
      await withWrap(['--store', dbPath, '--allow-tool', 'safe_echo'], recorderCommand(join(dir, 'chain.log')), async ({ client }) => {
        assert.equal(text(await client.callTool({ name: 'safe_echo', arguments: { text: 'hi' } })), 'hi');
        await assertForbidden(client.callTool({ name: 'danger', arguments: { text: 'x' } }), /danger/);
        await viaGateway.client.listTools(); // the gateway appends between the wrap's records
      });
      await viaGateway.client.close();
    } finally {
      await gw.close();
    }
    const store = new SqliteStore(dbPath);
    try {
      assert.equal((await verifyAuditChains(store.audit)).ok, true);
      const records = (await store.audit.query({ limit: 1000 })).map(parseAuditRow);
      const wrapped = records.filter((r) => r.upstream === 'node' && r.event === 'call').map((r) => [r.method, r.target ?? '', r.decision, r.credential.kind]);
      assert.deepEqual(wrapped.filter(([m]) => m === 'tools/call'), [['tools/call', 'safe_echo', 'allow', 'none'], ['tools/call', 'danger', 'deny', 'none']]);
      assert.ok(records.some((r) => r.instance === 'gateway-1' && r.method === 'tools/list'));
    } finally {
      await store.close();
    }
  });
});
