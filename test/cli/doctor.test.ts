import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { warden } from '../helpers/cli.js';
import { createKey } from '../helpers/keys.js';
import { startIdp, type TestIdp } from '../helpers/idp.js';

/**
 * `warden doctor -c FILE`: a clean config exits 0 with no finding; each misconfiguration, made by changing
 * that clean config in one place, gives exactly the findings named, each with its fix, and exit 1.
 */

interface Finding { id: string; severity: string; path?: string; message: string; fix: string }
interface Report { ok: boolean; checks?: { id: string; ok: boolean }[]; findings: Finding[] }

const ENV = { REDIS_URL: 'redis://127.0.0.1:6379', NOTES_KEY: 'notes-key-from-env', METRICS_TOKEN: 'metrics-token-from-env' };

/** A public deployment an auth reviewer would pass: TLS in front, API keys, named tools, pinned packages, secrets from the environment. */
function clean(db: string, changes: Record<string, string> = {}): string {
  const parts: Record<string, string> = {
    scenario: 'scenario: public',
    listen: 'listen: { host: 0.0.0.0, port: 8787 }',
    publicUrl: 'publicUrl: https://mcp.example.com',
    auth: 'auth: { apiKeys: {} }',
    store: `store: { sqlite: ${JSON.stringify(db)} }`,
    authorization: 'authorization: { scopes: { "notes:read": { tools: [search_notes, get_note] } } }',
    metrics: 'metrics: { token: "${METRICS_TOKEN}" }',
    upstreams: [
      'upstreams:',
      '  notes:',
      '    url: http://127.0.0.1:9/mcp',
      '    headers: { x-api-key: "${NOTES_KEY}" }',
      '  everything:',
      '    command: [npx, -y, "@modelcontextprotocol/server-everything@2026.1.26", stdio]',
      '    allow: { tools: [echo, "get-*"] }',
    ].join('\n'),
    ...changes,
  };
  return `${Object.values(parts).filter(Boolean).join('\n')}\n`;
}

let dir: string;
let n = 0;
/** A real OIDC provider (oidc-provider over HTTP) as the company IdP of the enterprise configs. */
let idp: TestIdp;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'warden-doctor-'));
  idp = await startIdp();
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await idp.close();
});

/** The enterprise scenario trusts a company IdP: the auth of a clean enterprise config. */
const enterpriseAuth = () => `auth: { apiKeys: {}, jwt: { issuers: [{ issuer: ${JSON.stringify(idp.issuer)} }] } }`;

function writeConfig(text: string): { file: string; db: string } {
  const sub = join(dir, `c${++n}`);
  const db = join(sub, 'w.db');
  const file = join(dir, `c${n}.yaml`);
  writeFileSync(file, text.replaceAll('@DB@', db));
  return { file, db };
}

async function doctor(file: string): Promise<{ code: number | null; report: Report }> {
  const run = await warden(['doctor', '-c', file, '--json'], ENV);
  assert.equal(run.stderr, '', 'doctor --json writes nothing to stderr');
  return { code: run.code, report: JSON.parse(run.stdout) as Report };
}

/** Runs doctor on `text` and checks: exit 1, exactly `ids`, and the first finding's fix. */
async function expectFindings(text: string, ids: string[], fix: RegExp): Promise<Finding[]> {
  const { file } = writeConfig(text);
  const { code, report } = await doctor(file);
  assert.deepEqual(report.findings.map((f) => f.id).sort(), [...ids].sort(), JSON.stringify(report.findings, null, 1));
  assert.equal(report.ok, false);
  assert.equal(code, 1);
  const first = report.findings.find((f) => f.id === ids[0])!;
  assert.match(first.fix, fix);
  for (const f of report.findings) assert.ok(f.message.length > 0 && f.fix.length > 0 && ['critical', 'warning'].includes(f.severity));
  return report.findings;
}

describe('warden doctor: a clean config', () => {
  test('exits 0 with no finding, and the four review questions answered', async () => {
    const { file, db } = writeConfig(clean('@DB@'));
    // A key with an expiry in the store: reviewed, and fine.
    await createKey(db, { subject: 'alice', scopes: ['notes:read'], expiresAt: Date.now() + 90 * 86_400_000 });
    const { code, report } = await doctor(file);
    assert.deepEqual(report.findings, []);
    assert.equal(report.ok, true);
    assert.equal(code, 0);
    assert.deepEqual(report.checks!.map((c) => `${c.id}:${c.ok}`), ['strategy:true', 'rotation:true', 'revocation:true', 'audit:true']);
  });

  test('text output: the review, then "no problems found"', async () => {
    const { file } = writeConfig(clean('@DB@'));
    const run = await warden(['doctor', '-c', file], ENV);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^review$/m);
    assert.match(run.stdout, /ok {4}revocation +`warden keys revoke ID` holds on the next request/);
    assert.match(run.stdout, /no problems found/);
  });

  test('the local scenario as warden demo runs it: loopback, no auth, named tools', async () => {
    const { file } = writeConfig([
      'store: { sqlite: "@DB@" }',
      'upstreams:',
      '  notes: { command: [node, notes.js], allow: { tools: [search_notes] } }',
    ].join('\n'));
    const { code, report } = await doctor(file);
    assert.deepEqual(report.findings, []);
    assert.equal(code, 0);
  });
});

describe('warden doctor: one finding per misconfiguration, with its fix, exit 1', () => {
  test('listening beyond loopback without auth (the loader refuses it; doctor names it)', async () => {
    const [f] = await expectFindings(clean('@DB@', { scenario: 'scenario: local', auth: 'auth: none', authorization: '', publicUrl: '' }), ['listen-without-auth'], /listen\.host: 127\.0\.0\.1.*auth: \{ apiKeys/);
    assert.equal(f!.severity, 'critical');
    assert.equal(f!.path, 'listen.host');
  });

  test('public scenario without auth', async () => {
    await expectFindings(clean('@DB@', { auth: 'auth: none', authorization: '' }), ['scenario-without-auth'], /auth: \{ apiKeys: \{\} \}/);
  });

  test('credentials over plain HTTP on a non-loopback address (no TLS in front): the loader refuses it in the public scenario', async () => {
    const [f] = await expectFindings(clean('@DB@', { publicUrl: '' }), ['credentials-over-http'], /TLS-terminating proxy.*publicUrl: https:.*listen\.tls/);
    assert.equal(f!.path, 'listen.tls');
  });

  test('credentials over plain HTTP in the local scenario: doctor names it with the same test; listen.tls or a declared proxy clears it', async () => {
    await expectFindings(clean('@DB@', { scenario: 'scenario: local', publicUrl: '' }), ['credentials-over-http', 'scenario-mismatch'], /TLS-terminating proxy.*listen\.tls/);
    for (const cleared of ['listen: { host: 0.0.0.0, port: 8787, tls: { cert: server.pem, key: server.key } }', 'http: { trustProxy: 1 }']) {
      const { file } = writeConfig(clean('@DB@', { scenario: 'scenario: local', publicUrl: '', ...(cleared.startsWith('listen') ? { listen: cleared } : { http: cleared }) }));
      const { report } = await doctor(file);
      assert.ok(!report.findings.some((f) => f.id === 'credentials-over-http'), cleared);
    }
  });

  test('OAuth over plain HTTP (the loader refuses it; doctor names it)', async () => {
    await expectFindings(clean('@DB@', { auth: 'auth: { oauth: {} }', publicUrl: 'publicUrl: http://mcp.example.com' }), ['credentials-over-http'], /TLS proxy.*publicUrl: https:/);
  });

  test('publicUrl over http in the public scenario', async () => {
    await expectFindings(clean('@DB@', { publicUrl: 'publicUrl: http://mcp.example.com', http: 'http: { trustProxy: 1 }' }), ['public-url-http'], /publicUrl: https:\/\/mcp\.example\.com/);
  });

  test('publicUrl over http in the enterprise scenario', async () => {
    await expectFindings(clean('@DB@', { scenario: 'scenario: enterprise', auth: enterpriseAuth(), publicUrl: 'publicUrl: http://mcp.corp.example', http: 'http: { trustProxy: 1 }' }), ['public-url-http'], /https:\/\/mcp\.corp\.example/);
  });

  test('an enterprise config whose IdP answers discovery and JWKS is clean; one whose IdP does not is a finding', async () => {
    const { file } = writeConfig(clean('@DB@', { scenario: 'scenario: enterprise', auth: enterpriseAuth() }));
    const reachable = await doctor(file);
    assert.deepEqual(reachable.report.findings, [], 'the IdP answers: nothing to report');
    assert.equal(reachable.code, 0);
    const { port } = new URL(idp.issuer);
    const gone = 'http://127.0.0.1:9/realms/gone';
    await expectFindings(clean('@DB@', { scenario: 'scenario: enterprise', auth: `auth: { apiKeys: {}, jwt: { issuers: [{ issuer: ${JSON.stringify(gone)} }] } }` }), ['idp-unreachable'], /check the issuer URL/);
    const noKeys = `http://127.0.0.1:${port}/no-such-jwks`;
    await expectFindings(clean('@DB@', { scenario: 'scenario: enterprise', auth: `auth: { apiKeys: {}, jwt: { issuers: [{ issuer: ${JSON.stringify(idp.issuer)}, jwksUri: ${JSON.stringify(noKeys)} }] } }` }), ['idp-unreachable'], /set jwksUri/);
  });

  test('no audience pinning: no publicUrl behind a proxy on this machine', async () => {
    await expectFindings(clean('@DB@', { scenario: 'scenario: enterprise', auth: enterpriseAuth(), listen: 'listen: { host: 127.0.0.1 }', publicUrl: '' }), ['audience-not-pinned'], /publicUrl: https:/);
  });

  test('two upstreams share one identity audience', async () => {
    await expectFindings(clean('@DB@', {
      upstreams: ['upstreams:', '  a: { url: http://127.0.0.1:9/mcp, identity: { audience: shared } }', '  b: { url: http://127.0.0.1:10/mcp, identity: { audience: shared } }'].join('\n'),
    }), ['identity-audience-shared'], /identity\.audience/);
  });

  test('long token lifetimes', async () => {
    const found = await expectFindings(clean('@DB@', { auth: 'auth: { oauth: { accessTokenTtl: 1h, refreshTokenTtl: 365d } }' }), ['long-token-lifetime', 'long-token-lifetime'], /accessTokenTtl: 10m/);
    assert.match(found[1]!.fix, /refreshTokenTtl: 30d/);
  });

  test('keys that never expire (in the store the config names)', async () => {
    const { file, db } = writeConfig(clean('@DB@'));
    const forever = await createKey(db, { subject: 'bob', scopes: ['notes:read'] });
    const { code, report } = await doctor(file);
    assert.deepEqual(report.findings.map((f) => f.id), ['keys-never-expire']);
    assert.match(report.findings[0]!.message, new RegExp(forever.id));
    assert.match(report.findings[0]!.fix, new RegExp(`warden keys rotate ${forever.id} --expires 90d --grace 1h`));
    assert.ok(!JSON.stringify(report).includes(forever.key), 'the key itself is never printed');
    assert.equal(code, 1);
  });

  test('no rate limit', async () => {
    await expectFindings(clean('@DB@', { metrics: 'metrics: { token: "${METRICS_TOKEN}" }\nrateLimit: { perIp: false }' }), ['no-rate-limit'], /rateLimit\.perIp: \{ requestsPerSecond/);
  });

  test('no per-user rate limit', async () => {
    await expectFindings(clean('@DB@', { metrics: 'metrics: { token: "${METRICS_TOKEN}" }\nrateLimit: { perPrincipal: false, perKey: false }' }), ['no-rate-limit'], /perPrincipal/);
  });

  test('a secret inline instead of ${ENV}: an upstream header', async () => {
    const found = await expectFindings(clean('@DB@', { upstreams: ['upstreams:', '  notes:', '    url: http://127.0.0.1:9/mcp', '    headers: { authorization: "Bearer abc123" }'].join('\n') }), ['inline-secret'], /authorization: "\$\{AUTHORIZATION\}"/);
    assert.ok(!JSON.stringify(found).includes('abc123'), 'the secret is not echoed');
  });

  test('a PostgreSQL password written into store.postgres (the database unreachable: the review still runs); several instances with a stdio upstream need affinity', async () => {
    const found = await expectFindings(clean('@DB@', { store: 'store: { postgres: "postgres://warden:pg-pass-in-file@127.0.0.1:1/warden", redis: "${REDIS_URL}" }\naudit: { instance: gw-1 }' }), ['store-password-inline', 'stdio-several-instances'], /postgres: "\$\{DATABASE_URL\}"/);
    assert.ok(!JSON.stringify(found).includes('pg-pass-in-file'), 'the password is not echoed');
  });

  test('a secret inline: a child variable and the metrics token', async () => {
    await expectFindings(clean('@DB@', {
      metrics: 'metrics: { token: plain-token-in-the-file-1234 }',
      upstreams: ['upstreams:', '  gh:', '    command: [node, gh.js]', '    setEnv: { GITHUB_TOKEN: ghp_abc, LOG_LEVEL: debug }'].join('\n'),
    }), ['inline-secret', 'inline-secret'], /move it to the environment/);
  });

  test('a store file readable by others', async () => {
    const { file, db } = writeConfig(clean('@DB@'));
    await createKey(db, { subject: 'alice', scopes: ['notes:read'], expiresAt: Date.now() + 86_400_000 });
    chmodSync(db, 0o644);
    const { code, report } = await doctor(file);
    assert.deepEqual(report.findings.map((f) => f.id), ['store-file-readable']);
    assert.match(report.findings[0]!.fix, new RegExp(`chmod 600 ${db}`));
    assert.equal(code, 1);
  });

  test('a stdio server through npx without a pinned version', async () => {
    const found = await expectFindings(clean('@DB@', {
      upstreams: ['upstreams:', '  fs:', '    command: [npx, -y, "@modelcontextprotocol/server-filesystem", /tmp]', '    allow: { tools: [read_file] }',
        '  py:', '    command: [uvx, "mcp-server-fetch>=1"]'].join('\n'),
    }), ['unpinned-package', 'unpinned-package'], /npx @modelcontextprotocol\/server-filesystem@<version>/);
    assert.match(found[1]!.fix, /uvx mcp-server-fetch/);
  });

  test('wildcard allow-lists: an upstream and a scope', async () => {
    const found = await expectFindings(clean('@DB@', {
      authorization: 'authorization: { scopes: { admin: { tools: ["*"] } } }',
      upstreams: ['upstreams:', '  notes: { url: http://127.0.0.1:9/mcp, allow: { tools: ["*"] } }'].join('\n'),
    }), ['wildcard-allow', 'wildcard-allow'], /list the tools|name the tools/);
    assert.deepEqual(found.map((f) => f.path).sort(), ['authorization.scopes.admin.tools', 'upstreams.notes.allow.tools']);
  });

  test('/metrics open to anyone', async () => {
    await expectFindings(clean('@DB@', { metrics: 'metrics: { public: true }' }), ['metrics-public'], /metrics: \{ token: "\$\{METRICS_TOKEN\}" \}/);
  });

  test('no audit record kept', async () => {
    await expectFindings(clean('@DB@', { metrics: 'metrics: { token: "${METRICS_TOKEN}" }\naudit: { store: false }' }), ['audit-off'], /audit\.store: true/);
  });

  test('the local scenario listening on a network address', async () => {
    await expectFindings(clean('@DB@', { scenario: 'scenario: local' }), ['scenario-mismatch'], /scenario: public/);
  });

  test('a config that does not load is a finding, with the loader\'s message', async () => {
    const found = await expectFindings(clean('@DB@', { listen: 'listen: { hots: 0.0.0.0 }' }), ['config-invalid'], /warden config check/);
    assert.match(found[0]!.message, /did you mean 'host'/);
  });
});
