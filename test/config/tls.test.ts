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

const MTLS_BASE = [
  'listen: { host: 127.0.0.1, tls: { cert: s.pem, key: s.key, clientCa: clients.pem } }',
  'auth: { mtls: { principal: san-uri, roles: { "spiffe://example.org/*": [ci] } } }',
  'authorization: { scopes: { "notes:read": { tools: [search_notes] } }, roles: { ci: ["notes:read"] } }',
  'upstreams: { notes: { url: "http://127.0.0.1:3000/mcp" } }',
];

test('auth.mtls: loads with listen.tls.clientCa (control for the refusals below)', () => {
  assert.deepEqual(issuesOf(MTLS_BASE), []);
});

test('auth.mtls refusals, each naming the setting: no certificate source, a header without a declared proxy, an unknown role, clientCertificates without clientCa', () => {
  const noSource = issuesOf(['listen: { host: 127.0.0.1 }', ...MTLS_BASE.slice(1)]);
  assert.ok(noSource.some((i) => i.path === 'auth.mtls' && /listen\.tls\.clientCa/.test(i.message)), JSON.stringify(noSource));
  const header = issuesOf(['listen: { host: 127.0.0.1 }', 'auth: { mtls: { principal: subject-cn, roles: { "*": [ci] }, header: X-Forwarded-Client-Cert, ca: c.pem } }', ...MTLS_BASE.slice(2)]);
  assert.ok(header.some((i) => i.path === 'auth.mtls.header' && /http\.trustProxy/.test(i.message)), JSON.stringify(header));
  const headerWithoutCa = issuesOf(['http: { trustProxy: 1 }', 'auth: { mtls: { principal: subject-cn, roles: { "*": [ci] }, header: X-Forwarded-Client-Cert } }', ...MTLS_BASE.slice(2)]);
  assert.ok(headerWithoutCa.some((i) => i.path === 'auth.mtls.ca'), JSON.stringify(headerWithoutCa));
  const role = issuesOf([MTLS_BASE[0]!, 'auth: { mtls: { principal: san-uri, roles: { "spiffe://example.org/*": [root] } } }', ...MTLS_BASE.slice(2)]);
  assert.ok(role.some((i) => i.path.startsWith('auth.mtls.roles') && /'root'/.test(i.message)), JSON.stringify(role));
  const require = issuesOf(['listen: { host: 127.0.0.1, tls: { cert: s.pem, key: s.key, clientCertificates: require } }', 'auth: { apiKeys: {} }', ...MTLS_BASE.slice(2)]);
  assert.ok(require.some((i) => i.path === 'listen.tls.clientCertificates'), JSON.stringify(require));
  const crl = issuesOf(['listen: { host: 127.0.0.1, tls: { cert: s.pem, key: s.key, clientCrl: revoked.pem } }', 'auth: { apiKeys: {} }', ...MTLS_BASE.slice(2)]);
  assert.ok(crl.some((i) => i.path === 'listen.tls.clientCrl' && /needs clientCa/.test(i.message)), JSON.stringify(crl));
  // Control: the header with a declared proxy and its CA loads.
  assert.deepEqual(issuesOf(['http: { trustProxy: 1 }', 'auth: { mtls: { principal: subject-cn, roles: { "*": [ci] }, header: X-Forwarded-Client-Cert, ca: c.pem } }', ...MTLS_BASE.slice(2)]), []);
});

test('listen.tls.clientCa, clientCrl and auth.mtls.ca are relative to the config file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-mtls-config-'));
  const file = join(dir, 'warden.yaml');
  writeFileSync(file, [...MTLS_BASE, 'http: { trustProxy: 1 }'].join('\n')
    .replace('roles: { "spiffe', 'header: X-Client-Cert, ca: proxy-ca.pem, roles: { "spiffe')
    .replace('clientCa: clients.pem', 'clientCa: clients.pem, clientCrl: pki/clients.crl'));
  const { config } = loadConfigFile(file);
  assert.equal(config.listen.tls!.clientCa, join(dir, 'clients.pem'));
  assert.equal(config.listen.tls!.clientCrl, join(dir, 'pki/clients.crl'));
  assert.ok(config.auth !== 'none' && config.auth.mtls);
  assert.equal(config.auth.mtls.ca, join(dir, 'proxy-ca.pem'));
});

test('upstreams.<name>.tls: paths relative to the config file; refused on http:// URLs and stdio, and cert without key', () => {
  const up = (u: string) => ['auth: { apiKeys: {} }', 'authorization: { scopes: { s: { tools: [t] } } }', `upstreams: { notes: ${u} }`];
  assert.deepEqual(issuesOf(up('{ url: "https://notes.internal/mcp", tls: { ca: ca.pem, cert: gw.pem, key: gw.key } }')), []);
  assert.ok(issuesOf(up('{ url: "http://notes.internal/mcp", tls: { ca: ca.pem } }')).some((i) => i.path === 'upstreams.notes.tls' && /https:\/\//.test(i.message)));
  assert.ok(issuesOf(up('{ command: [node, s.js], tls: { ca: ca.pem } }')).some((i) => i.path === 'upstreams.notes.tls'));
  assert.ok(issuesOf(up('{ url: "https://notes.internal/mcp", tls: { cert: gw.pem } }')).some((i) => i.path === 'upstreams.notes.tls.key'));
  const dir = mkdtempSync(join(tmpdir(), 'warden-upstream-tls-'));
  const file = join(dir, 'warden.yaml');
  writeFileSync(file, up('{ url: "https://notes.internal/mcp", tls: { ca: pki/ca.pem, cert: /etc/gw.pem, key: /etc/gw.key } }').join('\n'));
  assert.deepEqual(loadConfigFile(file).config.upstreams.notes!.tls, { ca: join(dir, 'pki/ca.pem'), cert: '/etc/gw.pem', key: '/etc/gw.key' });
});
