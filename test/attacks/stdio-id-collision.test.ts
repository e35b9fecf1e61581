/**
 * Attack: reuse a JSON-RPC id that is in flight in a stdio session, so that the answer to one request —
 * a `tools/list` before the list filter — is delivered to the other request's POST, unfiltered.
 * Defence: ids towards the child are the gateway's own, and an id in flight is refused (400, -32600).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { mcpBody, postRaw, INITIALIZE } from '../helpers/client.js';
import { notesServerCommand } from '../helpers/upstreams.js';

const ALLOWED = ['add_note', 'list_notes', 'search_notes', 'get_note', 'count_slowly'];
const toolNames = (answer: { json: any }) => (answer.json.result.tools as { name: string }[]).map((t) => t.name);

describe('attack: a JSON-RPC id reused while in flight in one stdio session', () => {
  let gw: TestGateway;
  const notes = join(mkdtempSync(join(tmpdir(), 'warden-id-collision-')), 'notes.json');
  before(async () => {
    gw = await startGateway({
      upstreams: {
        notes: { command: notesServerCommand(), setEnv: { WARDEN_DEMO_NOTES: notes }, allow: { tools: ALLOWED } },
        // The same server without an allow-list: what an unfiltered list holds.
        unfiltered: { command: notesServerCommand(), setEnv: { WARDEN_DEMO_NOTES: notes } },
      },
    });
  });
  after(() => gw.close());

  test('control: the upstream has delete_note, which the allow-list hides', async () => {
    const raw = await postRaw(`${gw.url}/mcp/unfiltered`, JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/list' }), await session(gw, 'unfiltered'));
    assert.ok(toolNames(raw).includes('delete_note'));
    const filtered = await postRaw(`${gw.url}/mcp/notes`, JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/list' }), await session(gw, 'notes'));
    assert.deepEqual(toolNames(filtered).sort(), [...ALLOWED].sort());
  });

  test('tools/list in flight, then tools/call with the same id: the second is refused and the first gets the filtered list', async () => {
    const url = `${gw.url}/mcp/notes`;
    const headers = await session(gw, 'notes');
    const pid = childPid(gw);
    // A stopped child holds the list in flight for as long as the test needs, without guessing at timing.
    process.kill(pid, 'SIGSTOP');
    let list: Promise<Awaited<ReturnType<typeof postRaw>>>;
    let other: Awaited<ReturnType<typeof postRaw>>;
    try {
      list = postRaw(url, JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/list' }), headers);
      await sleep(200);
      other = await postRaw(url, JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'list_notes', arguments: {} } }), headers);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    assert.equal(other.status, 400);
    assert.strictEqual(other.json.id, 5);
    assert.equal(other.json.error.code, -32600);
    assert.equal(other.json.error.data.error, 'request_id_in_use');
    assert.match(other.json.error.message, /id 5 is already in use/);
    assert.doesNotMatch(other.text, /delete_note/);

    const listed = await list;
    assert.equal(listed.status, 200);
    assert.strictEqual(listed.json.id, 5);
    assert.deepEqual(toolNames(listed).sort(), [...ALLOWED].sort(), 'the list is filtered');

    const outcome = await outcomeRecord(gw, 'request_id_in_use');
    assert.equal(outcome.status, 400);
    assert.equal(outcome.method, 'tools/call');

    const next = await postRaw(url, JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'list_notes', arguments: {} } }), headers);
    assert.equal(next.status, 200, 'once answered, the id may be used again');
    assert.ok(mcpBody(next.text).result);
  });

  test('a slow call in flight, then tools/list with its id: refused; the slow call still gets its own answer', async () => {
    const url = `${gw.url}/mcp/notes`;
    const headers = await session(gw, 'notes');
    const slow = postRaw(url, JSON.stringify({ jsonrpc: '2.0', id: 'x', method: 'tools/call', params: { name: 'count_slowly', arguments: { n: 5 } } }), headers);
    await sleep(150);
    const list = await postRaw(url, JSON.stringify({ jsonrpc: '2.0', id: 'x', method: 'tools/list' }), headers);
    assert.equal(list.status, 400);
    assert.equal(list.json.error.data.error, 'request_id_in_use');
    assert.strictEqual(list.json.id, 'x');
    const answer = mcpBody((await slow).text);
    assert.strictEqual(answer.id, 'x');
    assert.match(JSON.stringify(answer.result), /Counted to 5/);
    assert.doesNotMatch(JSON.stringify(answer), /"tools"/, 'the slow call did not get the list');
    // Control: another id at the same time is fine.
    const again = postRaw(url, JSON.stringify({ jsonrpc: '2.0', id: 'x', method: 'tools/call', params: { name: 'count_slowly', arguments: { n: 3 } } }), headers);
    await sleep(100);
    const other = await postRaw(url, JSON.stringify({ jsonrpc: '2.0', id: 'y', method: 'tools/list' }), headers);
    assert.equal(other.status, 200);
    assert.deepEqual(toolNames(other).sort(), [...ALLOWED].sort());
    assert.match((await again).text, /Counted to 3/);
  });

  test('a batch repeating an id is refused whole, before anything reaches the child', async () => {
    const url = `${gw.url}/mcp/notes`;
    const headers = { ...(await session(gw, 'notes')), 'mcp-protocol-version': '2025-03-26' };
    const add = (id: number, title: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'add_note', arguments: { title, body: 'b' } } });
    const batch = await postRaw(url, JSON.stringify([add(1, 'dup-batch-a'), add(1, 'dup-batch-b')]), headers);
    assert.equal(batch.status, 400);
    assert.equal(batch.json.error.data.error, 'request_id_in_use');
    const list = await postRaw(url, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'search_notes', arguments: { query: 'dup-batch' } } }), headers);
    assert.doesNotMatch(list.text, /dup-batch-a|dup-batch-b/, 'neither request was forwarded');
    // Control: the same batch with distinct ids goes through.
    const fine = await postRaw(url, JSON.stringify([add(3, 'dup-batch-c'), add(4, 'dup-batch-d')]), { ...headers, accept: 'application/json' });
    assert.equal(fine.status, 200);
    assert.deepEqual((fine.json as { id: number }[]).map((a) => a.id).sort(), [3, 4]);
  });
});

/** A new session on `upstream`, initialized by hand: the headers that name it. */
async function session(gw: TestGateway, upstream: string): Promise<Record<string, string>> {
  const url = `${gw.url}/mcp/${upstream}`;
  const init = await postRaw(url, JSON.stringify(INITIALIZE));
  assert.equal(init.status, 200);
  const headers = { 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-06-18' };
  await postRaw(url, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), headers);
  return headers;
}

/** The pid of the newest child, from the gateway's own log line "session started". */
function childPid(gw: TestGateway): number {
  return gw.logs.lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'session started').at(-1).pid as number;
}

/** The outcome record with this error code, once the after-phase wrote it. */
async function outcomeRecord(gw: TestGateway, error: string) {
  for (let i = 0; i < 50; i++) {
    const record = gw.audit.records.find((r) => r.event === 'outcome' && r.error === error);
    if (record) return record;
    await sleep(20);
  }
  throw new Error(`no outcome record with error ${error}`);
}
