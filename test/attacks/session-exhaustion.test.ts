/**
 * Attack: one principal opens stdio sessions until the upstream's `sessions.max` is reached, and everyone
 * else is locked out. Defence: a per-principal cap (`sessions.perPrincipal`); a principal at its cap, or at
 * a full upstream, ends its own least recently used idle session; with none idle it gets 429 (its cap) or
 * 503 (the upstream is full) with Retry-After, recorded as a refused call. Nobody's session but the
 * caller's own is ever ended to make room.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { getJson, initialize, openStream, postRaw } from '../helpers/client.js';
import { keyedSetup, createKey, bearer } from '../helpers/keys.js';
import { whoamiStdioCommand } from '../helpers/identity-upstream.js';

const LIST = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });

describe('attack: one principal exhausts a stdio upstream\'s sessions', () => {
  let gw: TestGateway;
  let url: string;
  const keys: Record<'alice' | 'aliceSecondKey' | 'bob' | 'carol', string> = { alice: '', aliceSecondKey: '', bob: '', carol: '' };
  const streams: { close(): Promise<void> }[] = [];

  before(async () => {
    const setup = keyedSetup();
    for (const name of ['alice', 'bob', 'carol'] as const) keys[name] = (await createKey(setup.dbPath, { subject: name, scopes: ['use'] })).key;
    keys.aliceSecondKey = (await createKey(setup.dbPath, { subject: 'alice', scopes: ['use'] })).key;
    gw = await startGateway({
      ...setup.config,
      authorization: { scopes: { use: { tools: ['whoami'] } } },
      rateLimit: { perIp: false },
      upstreams: {
        kids: { command: whoamiStdioCommand(), env: ['PATH'], sessions: { max: 4, perPrincipal: 2 } },
        defaults: { command: whoamiStdioCommand(), env: ['PATH'] },
      },
    });
    url = `${gw.url}/mcp/kids`;
  });
  after(async () => {
    await Promise.all(streams.map((s) => s.close()));
    await gw.close();
  });

  /** A new session of `who`: its id and the headers that use it. */
  async function open(who: keyof typeof keys): Promise<{ id: string; headers: Record<string, string> }> {
    const init = await initialize(url, keys[who], who);
    assert.equal(init.status, 200, `${who} could not open a session: ${init.text}`);
    const id = init.headers.get('mcp-session-id')!;
    const headers = { ...bearer(keys[who]), 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' };
    await postRaw(url, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), headers);
    return { id, headers };
  }
  /** Keeps a session busy with an open GET stream, as SDK clients do. */
  async function busy(session: { id: string; headers: Record<string, string> }) {
    const stream = await openStream(url, session.id, session.headers);
    assert.equal(stream.status, 200);
    streams.push(stream);
    return stream;
  }
  const end = (s: { headers: Record<string, string> }) => fetch(url, { method: 'DELETE', headers: s.headers });
  const works = async (s: { headers: Record<string, string> }) => (await postRaw(url, LIST, s.headers)).status;
  const refusals = (subject: string) => gw.audit.records.filter((r) => r.subject === subject && r.method === 'initialize' && r.decision === 'deny');

  test('the default cap is an eighth of max with authentication', async () => {
    const ready = await getJson(`${gw.url}/readyz`);
    assert.equal(ready.upstreams.defaults.perPrincipal, 4, 'max 32 → 4');
    assert.equal(ready.upstreams.kids.perPrincipal, 2);
  });

  test('at its cap with every session busy, a principal gets 429 with Retry-After, recorded; others still get in', async () => {
    const a1 = await open('alice');
    const a2 = await open('alice');
    const s1 = await busy(a1);
    const s2 = await busy(a2);

    const over = await initialize(url, keys.alice, 'alice');
    assert.equal(over.status, 429);
    assert.equal(over.json.error.data.error, 'too_many_principal_sessions');
    assert.match(over.json.error.message, /upstreams\.kids\.sessions\.perPrincipal/);
    assert.ok(Number(over.headers.get('retry-after')) > 0);
    const denied = refusals('alice');
    assert.equal(denied.length, 1, 'the refusal is in the audit records');
    assert.match(denied[0]!.reason, /busy sessions, its cap \(upstreams\.kids\.sessions\.perPrincipal = 2\)/);
    assert.equal(denied[0]!.upstream, 'kids');
    const otherKey = await initialize(url, keys.aliceSecondKey, 'alice');
    assert.equal(otherKey.status, 429, 'another key of the same user buys no extra share');

    const b1 = await open('bob');
    assert.equal(await works(b1), 200, 'another principal is not locked out');
    assert.equal(await works(a1), 200, "alice's sessions go on");
    assert.equal(await works(a2), 200);

    // Control: once one of her sessions is idle, alice's new session takes its place.
    await s1.close();
    const a3 = await open('alice');
    assert.equal(await works(a1), 404, 'her idle session was ended');
    assert.equal(await works(a2), 200, 'her busy one was not');
    assert.equal(await works(a3), 200);
    await s2.close();
    for (const s of [a2, a3, b1]) assert.equal((await end(s)).status, 200);
  });

  test('her least recently used idle session goes first', async () => {
    const older = await open('alice');
    const newer = await open('alice');
    await sleep(20);
    assert.equal(await works(older), 200); // now `newer` is the least recently used
    await sleep(20);
    const third = await open('alice');
    assert.equal(await works(newer), 404);
    assert.equal(await works(older), 200);
    for (const s of [older, third]) assert.equal((await end(s)).status, 200);
  });

  test('a full upstream: a principal with an idle session of its own gets in; one without gets 503, recorded', async () => {
    const a1 = await open('alice');
    const a2 = await open('alice');
    const b1 = await open('bob');
    const c1 = await open('carol');
    const held = [await busy(a1), await busy(a2), await busy(b1)];
    // Full: 4 of 4. Bob is under his cap but has no idle session; nobody else's is ended for him.
    const bob = await initialize(url, keys.bob, 'bob');
    assert.equal(bob.status, 503);
    assert.equal(bob.json.error.data.error, 'too_many_sessions');
    assert.match(bob.json.error.message, /upstreams\.kids\.sessions\.max/);
    assert.ok(Number(bob.headers.get('retry-after')) > 0);
    assert.match(refusals('bob').at(-1)!.reason, /upstream is full \(upstreams\.kids\.sessions\.max = 4\)/);
    assert.equal(await works(c1), 200, "carol's idle session was not ended for bob");

    const c2 = await open('carol');
    assert.equal(await works(c1), 404, "carol's own idle session made room");
    assert.equal(await works(c2), 200);
    for (const s of [a1, a2, b1]) assert.equal(await works(s), 200, 'the busy sessions go on');
    await Promise.all(held.map((s) => s.close()));
    for (const s of [a1, a2, b1, c2]) assert.equal((await end(s)).status, 200);
  });
});
