import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPinned, launchedPackage, stdioWithoutAffinity } from '../../src/doctor/rules-upstreams.js';
import { auditInstanceUnnamed, clientCertificatesUnrevocable } from '../../src/doctor/rules-credentials.js';
import { configSchema } from '../../src/config/index.js';

test('launchedPackage: the package each launcher runs, past its flags', () => {
  assert.deepEqual(launchedPackage(['npx', '-y', '@modelcontextprotocol/server-filesystem', '/tmp']), { launcher: 'npx', spec: '@modelcontextprotocol/server-filesystem' });
  assert.deepEqual(launchedPackage(['/usr/bin/npx', '--package', 'pkg@1.2.3', 'bin']), { launcher: 'npx', spec: 'pkg@1.2.3' });
  assert.deepEqual(launchedPackage(['npx', '--package=pkg@2.0.0', 'bin']), { launcher: 'npx', spec: 'pkg@2.0.0' });
  assert.deepEqual(launchedPackage(['pnpm', 'dlx', 'mcp-server-x']), { launcher: 'pnpm dlx', spec: 'mcp-server-x' });
  assert.deepEqual(launchedPackage(['npm', 'exec', '--yes', 'pkg']), { launcher: 'npm exec', spec: 'pkg' });
  assert.deepEqual(launchedPackage(['uvx', '--python', '3.12', 'mcp-server-fetch==0.6.2']), { launcher: 'uvx', spec: 'mcp-server-fetch==0.6.2' });
  // Not launchers: a binary run directly is what the fix recommends.
  assert.equal(launchedPackage(['node', 'server.js']), undefined);
  assert.equal(launchedPackage(['pnpm', 'start']), undefined);
});

test('isPinned: exact versions only; ranges, tags and bare names move', () => {
  for (const spec of ['pkg@1.2.3', '@scope/pkg@2026.1.26', 'pkg@1.0.0-beta.1', 'mcp-server-fetch==0.6.2']) assert.ok(isPinned(spec), spec);
  for (const spec of ['pkg', '@scope/pkg', 'pkg@latest', 'pkg@^1.2.3', 'pkg@1', '@scope/pkg@~2.0.0', 'fetch>=1']) assert.ok(!isPinned(spec), spec);
});

test('several instances: a stdio upstream needs affinity, and each instance a name for its audit chain; one instance needs neither', () => {
  const shared = { postgres: 'postgres://warden@db:5432/warden', redis: 'redis://redis:6379' };
  const config = (store: Record<string, unknown>, audit: Record<string, unknown> = {}) => configSchema.parse({
    auth: { apiKeys: {} }, authorization: { scopes: { s: { tools: ['t'] } } }, store, audit,
    upstreams: { kids: { command: ['node', 'server.js'] }, web: { url: 'http://127.0.0.1:9/mcp' } },
  });
  const check = (c: ReturnType<typeof config>) => [...stdioWithoutAffinity.check({ config: c, raw: {}, files: [] }), ...auditInstanceUnnamed.check({ config: c, raw: {}, files: [] })];
  const several = check(config(shared));
  assert.deepEqual(several.map((f) => f.path), ['upstreams.kids.command', 'audit.instance'], 'the stdio upstream only, and the instance name');
  assert.match(several[0]!.message, /session_on_other_instance/);
  assert.match(several[0]!.fix, /stick table/);
  assert.deepEqual(check(config(shared, { instance: 'gw-1' })).map((f) => f.path), ['upstreams.kids.command'], 'named: only affinity remains');
  assert.deepEqual(check(config({ sqlite: './w.db' })), [], 'one instance on SQLite: neither applies');
});

test('client certificates without a CRL are a finding naming listen.tls.clientCrl; with one, or without client certificates, none', () => {
  const config = (tls: Record<string, unknown>) => configSchema.parse({
    listen: { host: '127.0.0.1', tls: { cert: 's.pem', key: 's.key', ...tls } },
    auth: { apiKeys: {} }, authorization: { scopes: { s: { tools: ['t'] } } }, upstreams: { web: { url: 'http://127.0.0.1:9/mcp' } },
  });
  const check = (c: ReturnType<typeof config>) => clientCertificatesUnrevocable.check({ config: c, raw: {}, files: [] });
  const found = check(config({ clientCa: 'clients.pem' }));
  assert.deepEqual(found.map((f) => f.path), ['listen.tls.clientCrl']);
  assert.match(found[0]!.fix, /SIGHUP/);
  assert.deepEqual(check(config({ clientCa: 'clients.pem', clientCrl: 'clients.crl' })), []);
  assert.deepEqual(check(config({})), []);
});
