import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAIN, warden } from '../helpers/cli.js';
import { startGateway } from '../helpers/gateway.js';
import { postRaw } from '../helpers/client.js';
import { createKey, bearer } from '../helpers/keys.js';
import { startPolicyUpstream, zoneWhereHourIs } from '../helpers/policy-upstream.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/policies/', import.meta.url));

describe('warden policy check|test|explain', () => {
  let dir: string;
  before(() => {
    assert.ok(existsSync(MAIN), `${MAIN} is missing: run npm run build first`);
    dir = mkdtempSync(join(tmpdir(), 'warden-cli-policy-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('check: the examples validate (exit 0, every id listed); a broken policy exits 1 naming file and line', async () => {
    const ok = await warden(['policy', 'check', '--policies', EXAMPLES, '--entities', join(EXAMPLES, 'entities.json')]);
    assert.equal(ok.code, 0, ok.stderr);
    for (const id of ['reader-read-only', 'refund-limit', 'tenant-own-upstream', 'office-hours', 'agent-within-user']) assert.match(ok.stdout, new RegExp(`^${id} `, 'm'));
    assert.match(ok.stdout, /9 policies valid against .*cedar\/mcp\.cedarschema, 13 entities/);

    const broken = join(dir, 'broken');
    cpSync(EXAMPLES, broken, { recursive: true });
    writeFileSync(join(broken, 'refund-limit.cedar'), readFileSync(join(broken, 'refund-limit.cedar'), 'utf8').replace('principal.roles', 'principal.role'));
    const bad = await warden(['policy', 'check', '--policies', broken, '--json']);
    assert.equal(bad.code, 1);
    const answer = JSON.parse(bad.stdout) as { ok: boolean; problems: string[] };
    assert.equal(answer.ok, false);
    assert.match(answer.problems[0]!, /refund-limit\.cedar:3: policy 'refund-limit': .*role/);
  });

  test('test: the example cases pass (exit 0); a wrong expectation exits 1 and is marked in the table', async () => {
    const ok = await warden(['policy', 'test', join(EXAMPLES, 'tests.yaml')]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^15 passed, 0 failed$/m);
    assert.match(ok.stdout, /^ok +deny +deny +refund-limit +support may not refund 101$/m);

    const wrong = readFileSync(join(EXAMPLES, 'tests.yaml'), 'utf8')
      .replace('policies: ./\nentities: ./entities.json', `policies: ${EXAMPLES}\nentities: ${join(EXAMPLES, 'entities.json')}`)
      .replace(/(name: support may not refund 101[\s\S]*?expect: )deny/, '$1allow');
    const file = join(dir, 'wrong.yaml');
    writeFileSync(file, wrong);
    const failed = await warden(['policy', 'test', file]);
    assert.equal(failed.code, 1);
    assert.match(failed.stdout, /^FAIL +allow +deny +refund-limit +support may not refund 101 \(expected allow, got deny\)$/m);
    assert.match(failed.stdout, /^14 passed, 1 failed$/m);

    const json = await warden(['policy', 'test', file, '--json']);
    assert.equal(json.code, 1);
    assert.equal((JSON.parse(json.stdout) as { failed: number }).failed, 1);

    writeFileSync(join(dir, 'malformed.yaml'), 'cases:\n  - name: x\n    action: fly\n');
    const malformed = await warden(['policy', 'test', join(dir, 'malformed.yaml'), '--policies', EXAMPLES]);
    assert.equal(malformed.code, 2);
    assert.match(malformed.stderr, /malformed\.yaml: cases\.0\.principal/);
  });

  test('test: a case can present a client certificate (principal.certificate), for policies that require one beside a token', async () => {
    const set = join(dir, 'cert-set');
    cpSync(EXAMPLES, set, { recursive: true });
    writeFileSync(join(set, 'from-build-machine.cedar'), '@id("from-build-machine")\nforbid (principal, action, resource) unless { principal has certificate && principal.certificate.subject == "CN=build-bot,O=Example" };\n');
    writeFileSync(join(set, 'cert-cases.yaml'), [
      'policies: ./',
      'entities: ./entities.json',
      'cases:',
      '  - name: alice from the build machine',
      '    principal: { subject: alice, tenant: acme, roles: [reader], certificate: { subject: "CN=build-bot,O=Example" } }',
      '    action: call_tool',
      '    resource: { upstream: acme, tool: notes_search }',
      '    expect: allow',
      '  - name: alice without a certificate',
      '    principal: { subject: alice, tenant: acme, roles: [reader] }',
      '    action: call_tool',
      '    resource: { upstream: acme, tool: notes_search }',
      '    expect: deny',
      '    policies: [from-build-machine]',
    ].join('\n'));
    const run = await warden(['policy', 'test', join(set, 'cert-cases.yaml')]);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    // --policies names the set; the file's entities stay (the tenant policy needs them).
    const flagged = await warden(['policy', 'test', join(set, 'cert-cases.yaml'), '--policies', set]);
    assert.equal(flagged.code, 0, `${flagged.stdout}\n${flagged.stderr}`);
  });

  test('a config without authorization.cedar, and no --policies, is a usage error (exit 2)', async () => {
    const file = join(dir, 'plain.yaml');
    writeFileSync(file, 'upstreams: { notes: { url: "http://127.0.0.1:9/mcp" } }\n');
    const run = await warden(['policy', 'check', '--config', file]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /has no authorization\.cedar; name the policies with --policies PATH/);
  });

  test('explain: replays a recorded call against the policies on disk now, and exits 1 when the decision changed', async () => {
    const upstream = await startPolicyUpstream();
    const policies = join(dir, 'live');
    cpSync(EXAMPLES, policies, { recursive: true });
    const db = join(dir, 'explain.db');
    const input = {
      auth: { apiKeys: {} },
      store: { sqlite: db },
      authorization: {
        scopes: { all: { tools: ['*'] } },
        cedar: { policies, entities: join(policies, 'entities.json'), timeZone: zoneWhereHourIs(12), reload: false },
      },
      rateLimit: { perIp: false as const },
      audit: { arguments: { enabled: true } },
      upstreams: { acme: { url: upstream.url } },
    };
    const configFile = join(dir, 'explain.yaml');
    writeFileSync(configFile, JSON.stringify(input));
    const { key } = await createKey(db, { subject: 'carol', tenant: 'acme', roles: ['support'], scopes: ['all'] });
    const gw = await startGateway(input, [key], { configuredAudit: true });
    try {
      const refused = await postRaw(`${gw.url}/mcp/acme`, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'refund', arguments: { amount: 500 } } }), bearer(key));
      assert.equal(refused.status, 403);
    } finally {
      await gw.close();
      await upstream.close();
    }
    const query = await warden(['audit', 'query', '--config', configFile, '--decision', 'deny', '--json']);
    const seq = (JSON.parse(query.stdout.trim().split('\n').at(-1)!) as { seq: number }).seq;

    const same = await warden(['policy', 'explain', String(seq), '--config', configFile]);
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /then: +deny \(scope all; cedar forbid: refund-limit\)/);
    assert.match(same.stdout, /now: +deny by refund-limit/);
    assert.match(same.stdout, /roles and scopes of API key .* as stored now/);
    assert.match(same.stdout, /arguments as recorded/, 'audit.arguments is on: the amount is replayed');

    unlinkSync(join(policies, 'refund-limit.cedar'));
    const changed = await warden(['policy', 'explain', String(seq), '--config', configFile, '--json']);
    assert.equal(changed.code, 1);
    const explained = JSON.parse(changed.stdout) as { changed: boolean; now: { decision: string; policies: string[] } };
    assert.equal(explained.changed, true);
    assert.deepEqual(explained.now, { ...explained.now, decision: 'allow', policies: ['payments-staff'] });

    const missing = await warden(['policy', 'explain', '99999', '--config', configFile]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no audit record 99999/);
  });
});
