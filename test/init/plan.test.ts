import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, parseUpstream, splitCommand, answersForScenario } from '../../src/init/plan.js';

test('decide: the four answers pick the scenario and the credential', () => {
  const base = { upstreams: [], cost: 'low' as const };
  assert.deepEqual(pick(decide({ ...base, users: 'me', where: 'local', idp: 'none' })), ['local', 'none']);
  assert.deepEqual(pick(decide({ ...base, users: 'team', where: 'internet', idp: 'none' })), ['public', 'apiKeys']);
  assert.deepEqual(pick(decide({ ...base, users: 'public', where: 'internet', idp: 'none' })), ['public', 'oauth']);
  // The enterprise scenario trusts a company IdP: without one, a company deployment is the public scenario's, with API keys.
  assert.deepEqual(pick(decide({ ...base, users: 'company', where: 'company', idp: 'none' })), ['public', 'apiKeys']);
  // Just me, but on a server: reached over a network, so not local.
  assert.deepEqual(pick(decide({ ...base, users: 'me', where: 'internet', idp: 'none' })), ['public', 'apiKeys']);
  const withIdp = decide({ ...base, users: 'company', where: 'company', idp: 'okta' });
  assert.equal(withIdp.auth, 'oauth');
  assert.equal(withIdp.scenario, 'enterprise');
  assert.match(withIdp.reasons.auth, /Okta exists: its tokens are accepted \(auth\.jwt/);
  for (const s of ['local', 'public', 'enterprise'] as const) assert.equal(decide({ ...answersForScenario(s), upstreams: [] }).scenario, s);
});

const pick = (p: { scenario: string; auth: string }) => [p.scenario, p.auth];

test('parseUpstream: names from URLs and packages; name=... wins; quotes kept together', () => {
  assert.deepEqual(parseUpstream('npx -y @modelcontextprotocol/server-everything@2026.1.26 stdio', '/d.js'), { name: 'everything', command: ['npx', '-y', '@modelcontextprotocol/server-everything@2026.1.26', 'stdio'] });
  assert.equal(parseUpstream('uvx mcp-server-fetch', '/d.js').name, 'fetch');
  assert.equal(parseUpstream('https://notes.example.com/mcp', '/d.js').name, 'notes');
  assert.equal(parseUpstream('http://127.0.0.1:9000/tickets/mcp', '/d.js').name, 'tickets');
  assert.deepEqual(parseUpstream('files=npx -y @modelcontextprotocol/server-filesystem "/my docs"', '/d.js').command, ['npx', '-y', '@modelcontextprotocol/server-filesystem', '/my docs']);
  assert.equal(parseUpstream('files=npx x', '/d.js').name, 'files');
  assert.deepEqual(parseUpstream('demo', '/d.js').command, ['node', '/d.js']);
  assert.throws(() => parseUpstream('   ', '/d.js'), /URL .* or a command line/);
  assert.deepEqual(splitCommand(`a 'b c' "d \\" e"`), ['a', 'b c', 'd " e']);
});
