import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText, loadConfigFile, ConfigError } from '../../src/config/index.js';

const PUBLIC = [
  'scenario: public',
  'auth: { apiKeys: {} }',
  'authorization: { scopes: { "notes:read": { tools: [search_notes] } } }',
  'upstreams: { notes: { url: "http://127.0.0.1:3000/mcp" } }',
];

function issuesOf(lines: string[]): { path: string; message: string }[] {
  try {
    parseConfigText(lines.join('\n'));
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues;
  }
}

test('attack surface: the public scenario refuses API keys over plain HTTP on 0.0.0.0, naming listen.tls and the proxy fix', () => {
  const issues = issuesOf(PUBLIC);
  const issue = issues.find((i) => i.path === 'listen.tls');
  assert.ok(issue, JSON.stringify(issues));
  assert.match(issue.message, /set listen\.tls: \{ cert, key \}.*http\.trustProxy: 1/);
});

test('the enterprise scenario applies the same check', () => {
  const issues = issuesOf(['http: { trustProxy: 0 }', ...PUBLIC.map((l) => l.replace('scenario: public', 'scenario: enterprise'))]);
  assert.ok(issues.some((i) => i.path === 'listen.tls'), JSON.stringify(issues));
});

test('controls: with listen.tls, behind a declared proxy (trustProxy, or an https publicUrl), on loopback, or in the local scenario, it loads', () => {
  for (const extra of [
    ['listen: { tls: { cert: server.pem, key: server.key } }'],
    ['http: { trustProxy: 1 }'],
    ['publicUrl: https://mcp.example.com'],
    ['listen: { host: 127.0.0.1 }'],
  ]) assert.ok(!issuesOf([...PUBLIC, ...extra]).some((i) => i.path === 'listen.tls'), extra.join());
  assert.ok(!issuesOf(['listen: { host: 0.0.0.0 }', ...PUBLIC.slice(1)]).some((i) => i.path === 'listen.tls'));
});

test('listen.tls files are relative to the config file; unknown keys are refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-tls-config-'));
  const file = join(dir, 'warden.yaml');
  writeFileSync(file, [...PUBLIC, 'listen: { tls: { cert: certs/server.pem, key: /abs/server.key, ca: chain.pem } }'].join('\n'));
  const { config } = loadConfigFile(file);
  assert.deepEqual(config.listen.tls, { cert: join(dir, 'certs/server.pem'), key: '/abs/server.key', ca: join(dir, 'chain.pem') });
  assert.ok(issuesOf([...PUBLIC, 'listen: { tls: { cert: a.pem, key: a.key, ciphers: RC4 } }']).some((i) => i.path.startsWith('listen.tls')));
  // Control: the same without the unknown key has no listen.tls issue.
  assert.ok(!issuesOf([...PUBLIC, 'listen: { tls: { cert: a.pem, key: a.key } }']).some((i) => i.path.startsWith('listen.tls')));
});
