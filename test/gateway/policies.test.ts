import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { connectClient, postRaw, mcpBody } from '../helpers/client.js';
import { keyedSetup, createKey, bearer } from '../helpers/keys.js';
import { startPolicyUpstream, zoneWhereHourIs, type PolicyUpstream } from '../helpers/policy-upstream.js';
import type { ConfigInput } from '../../src/config/index.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/policies/', import.meta.url));
const CEDAR = { policies: EXAMPLES, entities: join(EXAMPLES, 'entities.json') };
const SCOPES: ConfigInput['authorization'] = {
  scopes: { all: { tools: ['*'] }, 'search-only': { tools: ['notes_search'] } },
  roles: {},
};

const call = (name: string, args: Record<string, unknown> = {}, id = 1) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });
const list = (id = 1) => ({ jsonrpc: '2.0', id, method: 'tools/list', params: {} });

describe('Cedar policies through the gateway: the example policies with real MCP calls', () => {
  let upstream: PolicyUpstream;
  let setup: ReturnType<typeof keyedSetup>;
  let day: TestGateway;
  let night: TestGateway;
  const keys: Record<string, string> = {};

  const post = (gw: TestGateway, who: string, body: unknown, upstreamName = 'acme') =>
    postRaw(`${gw.url}/mcp/${upstreamName}`, JSON.stringify(body), bearer(keys[who]!));
  const toolNames = async (gw: TestGateway, who: string, upstreamName = 'acme') => {
    const { client } = await connectClient(`${gw.url}/mcp/${upstreamName}`, bearer(keys[who]!));
    try {
      return (await client.listTools()).tools.map((t) => t.name).sort();
    } finally {
      await client.close();
    }
  };
  const lastRecord = (gw: TestGateway) => gw.audit.records.filter((r) => r.event === 'call').at(-1)!;

  before(async () => {
    upstream = await startPolicyUpstream();
    setup = keyedSetup('warden-cedar-');
    const people: [string, string | undefined, string[], string[]][] = [
      ['alice', 'acme', ['reader'], ['all']],
      ['bob', 'acme', ['writer'], ['all']],
      ['carol', 'acme', ['support'], ['all']],
      ['dave', 'acme', ['support', 'finance'], ['all']],
      ['erin', 'globex', ['reader'], ['all']],
      ['nosy', 'acme', ['reader', 'writer'], ['search-only']],
    ];
    for (const [subject, tenant, roles, scopes] of people) {
      keys[subject] = (await createKey(setup.dbPath, { subject, ...(tenant ? { tenant } : {}), roles, scopes })).key;
    }
    const config = (hour: number): Partial<ConfigInput> & Pick<ConfigInput, 'upstreams'> => ({
      ...setup.config,
      authorization: { ...SCOPES, cedar: { ...CEDAR, timeZone: zoneWhereHourIs(hour), reload: false } },
      rateLimit: { perIp: false },
      upstreams: { acme: { url: upstream.url }, globex: { url: upstream.url } },
    });
    day = await startGateway(config(12), Object.values(keys));
    night = await startGateway(config(21), Object.values(keys));
  });

  after(async () => {
    await day?.close();
    await night?.close();
    await upstream?.close();
    rmSync(setup.dir, { recursive: true, force: true });
  });

  test('reader-read-only: a reader calls a read-only tool, is refused a write, and the audit record names the policy', async () => {
    const ok = await post(day, 'alice', call('notes_search', { query: 'q' }));
    assert.equal(ok.status, 200);
    assert.equal(mcpBody(ok.text).result.content[0].text, 'notes_search done');
    const allowed = lastRecord(day);
    assert.deepEqual(allowed.policies, { determining: ['reader-read-only'], version: 1 });
    assert.match(allowed.reason, /^scope all; cedar permit: reader-read-only$/);

    const seen = upstream.calls.length;
    const refused = await post(day, 'alice', call('notes_create', { text: 'x' }));
    assert.equal(refused.status, 403);
    assert.equal(refused.json.error.code, -32003);
    assert.match(refused.json.error.message, /^Forbidden: no policy permits tool 'notes_create' on upstream 'acme'$/);
    assert.equal(upstream.calls.length, seen, 'the upstream never heard of it');
    const denied = lastRecord(day);
    assert.equal(denied.decision, 'deny');
    assert.equal(denied.target, 'notes_create');
    assert.deepEqual(denied.policies, { determining: [], version: 1 });
    assert.match(denied.reason, /cedar: no policy permits it \(default deny\)/);

    assert.equal((await post(day, 'alice', call('notes_get'))).status, 200, 'the next legitimate call still works');
  });

  test('refund-limit: 403 names the policy id and @reason, never its text; finance may; a text amount cannot slip past', async () => {
    assert.equal((await post(day, 'carol', call('refund', { amount: 50 }))).status, 200, 'control: below the limit');
    const seen = upstream.calls.length;
    const refused = await post(day, 'carol', call('refund', { amount: 500 }));
    assert.equal(refused.status, 403);
    assert.equal(refused.json.error.message, "Forbidden by policy 'refund-limit': refunds above 100 need the finance role (tool 'refund' on upstream 'acme')");
    assert.doesNotMatch(refused.text, /context\.|principal\.|when \{|unless|resource\.name/, 'no policy text in the answer');
    const record = lastRecord(day);
    assert.deepEqual(record.policies, { determining: ['refund-limit'], version: 1 });
    assert.match(record.reason, /cedar forbid: refund-limit/);

    const confused = await post(day, 'carol', call('refund', { amount: '500' }));
    assert.equal(confused.status, 403, 'type confusion: "500" as text');
    assert.deepEqual(lastRecord(day).policies, { determining: ['refund-limit'], errors: ['refund-limit'], version: 1 });
    assert.equal(upstream.calls.length, seen, 'neither refused refund reached the upstream');

    assert.equal((await post(day, 'dave', call('refund', { amount: 500 }))).status, 200, 'finance may');
    assert.deepEqual(upstream.calls.at(-1), { name: 'refund', args: { amount: 500 } });
  });

  test('tenant-own-upstream: a tenant lists and calls only its own upstream', async () => {
    assert.deepEqual(await toolNames(day, 'erin', 'globex'), ['notes_get', 'notes_search'], 'control: its own');
    const listed = await post(day, 'erin', list(), 'acme');
    assert.equal(listed.status, 403);
    assert.match(listed.json.error.message, /^Forbidden by policy 'tenant-own-upstream': a tenant only sees its own upstream \(tools\/list on upstream 'acme'\)$/);
    assert.equal(lastRecord(day).method, 'tools/list');
    assert.deepEqual(lastRecord(day).policies?.determining, ['tenant-own-upstream']);
    const called = await post(day, 'alice', call('notes_search'), 'globex');
    assert.equal(called.status, 403);
    assert.match(called.json.error.message, /policy 'tenant-own-upstream-items'/);
    assert.equal((await post(day, 'erin', call('notes_search'), 'globex')).status, 200, 'control: erin on her own upstream');
  });

  test('lists show only what the policies would allow, per caller', async () => {
    assert.deepEqual(await toolNames(day, 'alice'), ['notes_get', 'notes_search']);
    assert.deepEqual(await toolNames(day, 'bob'), ['notes_create', 'notes_get', 'notes_search']);
    assert.deepEqual(await toolNames(day, 'carol'), ['refund'], 'refund shown: its limit depends on arguments a list does not have');
    assert.deepEqual(await toolNames(day, 'dave'), ['refund']);
  });

  test('office-hours: at 21:00 local no writes, reads still work, and lists drop the write tools', async () => {
    const refused = await post(night, 'bob', call('notes_create'));
    assert.equal(refused.status, 403);
    assert.match(refused.json.error.message, /policy 'office-hours': writes are allowed only in office hours/);
    assert.equal((await post(night, 'bob', call('notes_get'))).status, 200);
    assert.deepEqual(await toolNames(night, 'bob'), ['notes_get', 'notes_search']);
    assert.equal((await post(day, 'bob', call('notes_create'))).status, 200, 'control: the same call at noon');
  });

  test('scopes come first: a request outside the caller\'s scopes never reaches Cedar', async () => {
    const refused = await post(day, 'nosy', call('notes_get'));
    assert.equal(refused.status, 403);
    assert.equal(refused.json.error.message.includes('needs scope all'), true);
    const record = lastRecord(day);
    assert.equal(record.policies, undefined, 'no policy was asked');
    assert.match(record.reason, /^no scope of the caller opens tool 'notes_get'$/);
    assert.equal((await post(day, 'nosy', call('notes_search'))).status, 200, 'control: inside its scope, Cedar allows');
    assert.deepEqual(lastRecord(day).policies?.determining, ['reader-read-only']);
  });

  test('a batch with one request a policy forbids is refused whole, each request recorded', async () => {
    const before = day.audit.records.length;
    // A ping first: it gets no record, so the policy step must still pair each decision with its request.
    const refused = await post(day, 'carol', [{ jsonrpc: '2.0', id: 0, method: 'ping' }, call('refund', { amount: 5 }, 1), call('refund', { amount: 5000 }, 2)]);
    assert.equal(refused.status, 403);
    const records = day.audit.records.slice(before).filter((r) => r.event === 'call');
    assert.deepEqual(records.map((r) => r.decision), ['deny', 'deny']);
    assert.match(records[0]!.reason, /not forwarded: the batch was refused because tools\/call tool 'refund' in it was denied/);
    assert.deepEqual(records[1]!.policies?.determining, ['refund-limit']);
    assert.deepEqual(records[0]!.policies?.determining, ['payments-staff'], 'the allowed one names its permit');
    const ok = await post(day, 'carol', [{ jsonrpc: '2.0', id: 0, method: 'ping' }, call('refund', { amount: 5 }, 1)]);
    assert.equal(ok.status, 200, 'control: the same batch without the large refund');
  });

  test('the cache serves repeated decisions; /readyz shows the policy set only to loopback callers', async () => {
    for (let i = 0; i < 3; i++) await post(day, 'alice', call('notes_search', { query: 'same' }));
    const ready = await (await fetch(`${day.url}/readyz`)).json() as { policies?: { cedar: { version: number; cache: { hits: number } } } };
    assert.equal(ready.policies?.cedar.version, 1);
    assert.ok(ready.policies!.cedar.cache.hits >= 2);
    const proxied = await (await fetch(`${day.url}/readyz`, { headers: { 'x-forwarded-for': '203.0.113.9' } })).json() as Record<string, unknown>;
    assert.equal(proxied.status, 'ready');
    assert.equal(proxied.policies, undefined, 'a request a proxy forwarded gets no detail');
  });
});
