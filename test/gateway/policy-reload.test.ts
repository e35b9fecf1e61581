import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { postRaw } from '../helpers/client.js';
import { startPolicyUpstream, type PolicyUpstream } from '../helpers/policy-upstream.js';

const SEARCH_ONLY = '@id("search") permit (principal, action == Action::"call_tool", resource) when { resource.name == "notes_search" };\n';
const GET_TOO = '@id("get") permit (principal, action == Action::"call_tool", resource) when { resource.name == "notes_get" };\n';
const BROKEN = '@id("broken") permit (principal, action == Action::"call_tool", resource) when { resource.nmae == "notes_create" };\n';

const call = (name: string) => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: {} } });

async function until(check: () => Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('hot reload of the policy set', () => {
  let upstream: PolicyUpstream;
  let gw: TestGateway;
  let dir: string;
  const status = async (name: string) => (await postRaw(`${gw.url}/mcp`, call(name))).status;
  const ready = async () => (await (await fetch(`${gw.url}/readyz`)).json()) as { policies: { cedar: { version: number; policies: number; lastError?: { problems: string[] } } } };

  before(async () => {
    upstream = await startPolicyUpstream();
    dir = mkdtempSync(join(tmpdir(), 'warden-reload-'));
    writeFileSync(join(dir, 'a.cedar'), SEARCH_ONLY);
    gw = await startGateway({ authorization: { cedar: { policies: dir } }, upstreams: { notes: { url: upstream.url } } });
  });

  after(async () => {
    await gw?.close();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a good set is swapped in; a bad one is refused, logged and shown, and the old set stays in force', async () => {
    assert.equal(await status('notes_search'), 200);
    assert.equal(await status('notes_get'), 403, 'control: not yet permitted');
    assert.equal((await ready()).policies.cedar.version, 1);

    // An editor's save: write a temporary file, then rename it over the policy file.
    writeFileSync(join(dir, 'a.cedar.tmp'), SEARCH_ONLY + GET_TOO);
    renameSync(join(dir, 'a.cedar.tmp'), join(dir, 'a.cedar'));
    await until(async () => (await status('notes_get')) === 200, 'the new set');
    const swapped = await ready();
    assert.equal(swapped.policies.cedar.version, 2);
    assert.equal(swapped.policies.cedar.lastError, undefined);
    assert.equal(gw.audit.records.at(-1)!.policies?.version, 2, 'records name the version that decided');

    writeFileSync(join(dir, 'b.cedar'), BROKEN);
    await until(async () => (await ready()).policies.cedar.lastError !== undefined, 'the refusal');
    const refused = await ready();
    assert.equal(refused.policies.cedar.version, 2, 'still the good set');
    assert.match(refused.policies.cedar.lastError!.problems.join('\n'), /b\.cedar:1: policy 'broken': .*nmae/);
    assert.equal(await status('notes_get'), 200, 'the old set still decides');
    assert.equal(await status('notes_create'), 403);
    assert.match(gw.logs.text, /policies on disk were refused; the previous set stays in force/);

    writeFileSync(join(dir, 'b.cedar'), BROKEN.replace('nmae', 'name'));
    await until(async () => (await status('notes_create')) === 200, 'the fixed set');
    const fixed = await ready();
    assert.equal(fixed.policies.cedar.version, 3);
    assert.equal(fixed.policies.cedar.lastError, undefined, 'the refusal is cleared once a good set is in force');
  });
});

describe('start-up with a policy set that does not load', () => {
  test('the gateway does not start, and says which file and policy are wrong', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warden-badset-'));
    try {
      writeFileSync(join(dir, 'bad.cedar'), BROKEN);
      await assert.rejects(
        startGateway({ authorization: { cedar: { policies: dir } }, upstreams: { notes: { url: 'http://127.0.0.1:9/mcp' } } }),
        /authorization\.cedar: the policy set does not load.*\n.*bad\.cedar:1: policy 'broken'/,
      );
      writeFileSync(join(dir, 'bad.cedar'), SEARCH_ONLY);
      const gw = await startGateway({ authorization: { cedar: { policies: dir } }, upstreams: { notes: { url: 'http://127.0.0.1:9/mcp' } } });
      await gw.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
