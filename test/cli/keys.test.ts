import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { warden } from '../helpers/cli.js';
import { cliConfigs } from '../helpers/cli-config.js';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/index.js';
import { ApiKeys, hashApiKey } from '../../src/credentials/index.js';

const KEY = /wdn_[0-9A-Za-z]{61}/;

const { config, tempDir } = cliConfigs('keys', { auth: 'auth: { apiKeys: {} }', roles: { editor: ['notes:read', 'notes:write'] } });

const keys = (file: string, ...args: string[]) => warden(['keys', ...args, '--config', file]);

interface Created {
  id: string;
  key: string;
  subject: string;
  tenant: string | null;
  name: string | null;
  scopes: string[];
  roles: string[];
  createdAt: string;
  expiresAt: string | null;
}

async function createJson(file: string, ...args: string[]): Promise<Created> {
  const run = await keys(file, 'create', '--json', ...args);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as Created;
}

describe('warden keys', { concurrency: true }, () => {
  test('create: the key alone on a line of stdout, said to be shown once, with its details; the gateway accepts it', async () => {
    const { file, db } = config();
    const run = await keys(file, 'create', '--subject', 'alice', '--tenant', 'acme', '--scope', 'notes:read', '--role', 'editor', '--name', 'laptop', '--expires', '30d');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    const lines = run.stdout.split('\n');
    const keyLines = lines.filter((l) => KEY.test(l));
    assert.equal(keyLines.length, 1, 'the key is printed exactly once');
    const key = keyLines[0]!;
    assert.match(key, /^wdn_[0-9A-Za-z]{61}$/, 'alone on its line, nothing around it');
    assert.match(run.stdout, /only time the key is shown: store it now/);
    assert.match(run.stdout, new RegExp(`id:\\s+${key.slice(4, 16)}`));
    assert.match(run.stdout, /subject:\s+alice/);
    assert.match(run.stdout, /scopes:\s+notes:read/);
    assert.match(run.stdout, /roles:\s+editor/);
    assert.match(run.stdout, /expires:\s+\d{4}-\d\d-\d\dT/);
    assert.ok(!run.stdout.includes(hashApiKey(key)), 'never the hash');

    const store = new SqliteStore(db);
    try {
      const record = await new ApiKeys(store.apiKeys).verify(key);
      assert.deepEqual([record.subject, record.tenant, record.name, record.scopes, record.roles], ['alice', 'acme', 'laptop', ['notes:read'], ['editor']]);
      const days = (record.expiresAt! - record.createdAt) / 86_400_000;
      assert.equal(Math.round(days), 30);
    } finally {
      await store.close();
    }
  });

  test('create without --expires: the key is made, with a warning on stderr that it never expires (--expires gives none: the test above)', async () => {
    const { file } = config();
    const run = await keys(file, 'create', '--subject', 'bob', '--scope', 'notes:read');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /warning: key \w{12} never expires; next time pass --expires 90d/);
    assert.match(run.stdout, /expires:\s+never/);
  });

  test('create --json: id, key, grants and ISO times', async () => {
    const { file } = config();
    const out = await createJson(file, '--subject', 'svc-ci', '--scope', 'notes:read', '--scope', 'notes:write');
    assert.deepEqual(Object.keys(out).sort(), ['createdAt', 'expiresAt', 'id', 'key', 'name', 'roles', 'scopes', 'subject', 'tenant']);
    assert.match(out.key, /^wdn_[0-9A-Za-z]{61}$/);
    assert.equal(out.key.slice(4, 16), out.id);
    assert.deepEqual([out.subject, out.tenant, out.name, out.scopes, out.roles, out.expiresAt], ['svc-ci', null, null, ['notes:read', 'notes:write'], [], null]);
    assert.equal(new Date(out.createdAt).toISOString(), out.createdAt);
  });

  test('create with a scope or role the config does not define: exit 2, naming it and the defined ones; nothing created', async () => {
    const { file, db } = config();
    const scope = await keys(file, 'create', '--subject', 'alice', '--scope', 'notes:admin');
    assert.equal(scope.code, 2);
    assert.match(scope.stderr, /unknown scope 'notes:admin'.*defined: notes:read, notes:write/);
    assert.equal(scope.stdout, '');
    const role = await keys(file, 'create', '--subject', 'alice', '--scope', 'notes:read', '--role', 'root');
    assert.equal(role.code, 2);
    assert.match(role.stderr, /unknown role 'root'.*defined: editor/);
    const none = await keys(file, 'create', '--subject', 'alice');
    assert.equal(none.code, 2);
    assert.match(none.stderr, /at least one --scope or --role/);
    assert.equal(existsSync(db), false, 'a usage mistake does not even create the store file');
    const list = await keys(file, 'list', '--all', '--json');
    assert.deepEqual(JSON.parse(list.stdout), []);
  });

  test('create with auth: none warns that the gateway ignores keys', async () => {
    const { file } = config({ auth: 'auth: none', scopes: {}, roles: {} });
    const run = await keys(file, 'create', '--subject', 'alice', '--scope', 'notes:read');
    assert.match(run.stderr, /does not turn on API keys, so the gateway ignores them; set auth: \{ apiKeys: \{\} \}/);
    // With auth: none the config cannot define scopes, so the scope is unknown.
    assert.equal(run.code, 2);
    assert.match(run.stderr, /none are defined/);
  });

  test('bad --expires: 0s, negative, or not a duration: exit 2, nothing created', async () => {
    const { file } = config();
    for (const bad of ['0s', '-1d', '30', 'soon', '1.5h']) {
      const run = await keys(file, 'create', '--subject', 'alice', '--scope', 'notes:read', '--expires', bad);
      assert.equal(run.code, 2, `${bad}: ${run.stderr}`);
      assert.doesNotMatch(run.stdout, KEY);
    }
    const list = await keys(file, 'list', '--all', '--json');
    assert.deepEqual(JSON.parse(list.stdout), []);
  });

  test('list and show never print a key or a hash', async () => {
    const { file } = config();
    const a = await createJson(file, '--subject', 'alice', '--scope', 'notes:read', '--name', 'laptop');
    const b = await createJson(file, '--subject', 'bob', '--tenant', 'acme', '--role', 'editor');
    const runs = await Promise.all([
      keys(file, 'list'), keys(file, 'list', '--json'), keys(file, 'list', '--all'),
      keys(file, 'show', a.id), keys(file, 'show', b.id, '--json'),
    ]);
    for (const run of runs) {
      assert.equal(run.code, 0, run.stderr);
      for (const k of [a, b]) {
        assert.ok(!run.stdout.includes(k.key) && !run.stdout.includes(k.key.slice(16, 59)), 'no key or secret');
        assert.ok(!run.stdout.includes(hashApiKey(k.key)), 'no hash');
      }
      assert.doesNotMatch(run.stdout, /"hash"|[0-9a-f]{64}/);
    }
    const [table, json] = runs;
    assert.match(table!.stdout, /^ID\s+NAME\s+SUBJECT\s+TENANT\s+SCOPES\s+ROLES\s+STATUS\s+EXPIRES\s+LAST USED$/m);
    assert.match(table!.stdout, new RegExp(`^${a.id}\\s+laptop\\s+alice\\s+-\\s+notes:read\\s+-\\s+active\\s+never\\s+never$`, 'm'));
    const views = JSON.parse(json!.stdout) as { id: string; status: string; subject: string }[];
    assert.deepEqual(views.map((v) => [v.id, v.subject, v.status]).sort(), [[a.id, 'alice', 'active'], [b.id, 'bob', 'active']].sort());
    const filtered = await keys(file, 'list', '--tenant', 'acme', '--json');
    assert.deepEqual((JSON.parse(filtered.stdout) as { id: string }[]).map((v) => v.id), [b.id]);
    assert.match(runs[3]!.stdout, /subject:\s+alice/);
  });

  test('rotate --json: a new key once, the previous key in grace; rotating it again is refused', async () => {
    const { file, db } = config();
    const old = await createJson(file, '--subject', 'alice', '--scope', 'notes:read', '--expires', '30d');
    const run = await keys(file, 'rotate', old.id, '--grace', '2h', '--json');
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as Created & { previous: { id: string; status: string; expiresAt: string } };
    assert.match(out.key, /^wdn_[0-9A-Za-z]{61}$/);
    assert.notEqual(out.id, old.id);
    assert.deepEqual([out.subject, out.scopes, out.expiresAt], ['alice', ['notes:read'], old.expiresAt]);
    assert.equal(out.previous.id, old.id);
    assert.equal(out.previous.status, 'grace');
    const graceMs = Date.parse(out.previous.expiresAt) - Date.parse(out.createdAt);
    assert.ok(Math.abs(graceMs - 2 * 3_600_000) < 1_000, `grace ${graceMs} ms`);

    const store = new SqliteStore(db);
    try {
      const verifier = new ApiKeys(store.apiKeys);
      await verifier.verify(old.key);
      await verifier.verify(out.key);
    } finally {
      await store.close();
    }

    const again = await keys(file, 'rotate', old.id);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /rotated already/);
  });

  test('rotate --grace 0s: the old key stops at once; human output shows the new key once', async () => {
    const { file, db } = config();
    const old = await createJson(file, '--subject', 'alice', '--scope', 'notes:read');
    const run = await keys(file, 'rotate', old.id, '--grace', '0s');
    assert.equal(run.code, 0, run.stderr);
    const keyLines = run.stdout.split('\n').filter((l) => KEY.test(l));
    assert.equal(keyLines.length, 1);
    assert.match(keyLines[0]!, /^wdn_[0-9A-Za-z]{61}$/);
    assert.match(run.stdout, new RegExp(`previous key ${old.id} no longer works`));
    const store = new SqliteStore(db);
    try {
      await assert.rejects(new ApiKeys(store.apiKeys).verify(old.key), { code: 'rotated' });
      await new ApiKeys(store.apiKeys).verify(keyLines[0]!);
    } finally {
      await store.close();
    }
    const bad = await keys(file, 'rotate', old.id, '--grace', 'later');
    assert.equal(bad.code, 2);
  });

  test('rotate --expires: a key that never expires is replaced by one that does', async () => {
    const { file } = config();
    const old = await createJson(file, '--subject', 'alice', '--scope', 'notes:read');
    assert.equal(old.expiresAt, null);
    const run = await keys(file, 'rotate', old.id, '--expires', '30d', '--json');
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as Created;
    const lifetime = Date.parse(out.expiresAt!) - Date.parse(out.createdAt);
    assert.ok(Math.abs(lifetime - 30 * 86_400_000) < 1_000, `lifetime ${lifetime} ms`);
    const bad = await keys(file, 'rotate', out.id, '--expires', '0s');
    assert.equal(bad.code, 2, 'a lifetime of nothing is refused');
  });

  test('revoke --json: status revoked, and the gateway refuses the key from then on', async () => {
    const { file, db } = config();
    const k = await createJson(file, '--subject', 'alice', '--scope', 'notes:read');
    // The gateway holds the store open while the CLI revokes.
    const gateway = new SqliteStore(db);
    try {
      const verifier = new ApiKeys(gateway.apiKeys);
      await verifier.verify(k.key);
      const run = await keys(file, 'revoke', k.id, '--json');
      assert.equal(run.code, 0, run.stderr);
      const view = JSON.parse(run.stdout) as { id: string; status: string; revokedAt: string };
      assert.equal(view.id, k.id);
      assert.equal(view.status, 'revoked');
      assert.equal(new Date(view.revokedAt).toISOString(), view.revokedAt);
      assert.ok(!run.stdout.includes(k.key));
      await assert.rejects(verifier.verify(k.key), { code: 'revoked' });
    } finally {
      await gateway.close();
    }
    const again = await keys(file, 'revoke', k.id);
    assert.equal(again.code, 1, 'revoking twice changes nothing, and says so');
    assert.match(again.stderr, new RegExp(`key ${k.id} was already revoked at \\d{4}-.*; nothing changed`));
    assert.equal(again.stdout, '');
    const list = await keys(file, 'list', '--json');
    assert.deepEqual(JSON.parse(list.stdout), [], 'revoked keys are left out without --all');
  });

  test('an unknown id: exit 1 and where to find ids, for show, rotate and revoke', async () => {
    const { file } = config();
    for (const cmd of ['show', 'rotate', 'revoke']) {
      const run = await keys(file, cmd, 'AAAAAAAAAAAA');
      assert.equal(run.code, 1, `${cmd}: ${run.stderr}`);
      assert.equal(run.stderr, 'warden: no API key with id AAAAAAAAAAAA; `warden keys list` shows them\n');
    }
  });

  test('a whole key in place of an id works; a mangled one is refused without being echoed', async () => {
    const { file } = config();
    const k = await createJson(file, '--subject', 'alice', '--scope', 'notes:read');
    const show = await keys(file, 'show', k.key, '--json');
    assert.equal(show.code, 0, show.stderr);
    assert.equal((JSON.parse(show.stdout) as { id: string }).id, k.id);
    const mangled = `${k.key.slice(0, 30)}${k.key[30] === 'x' ? 'y' : 'x'}${k.key.slice(31)}`;
    const run = await keys(file, 'revoke', mangled);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /copy\/paste error/);
    assert.ok(!run.stderr.includes(mangled) && !run.stderr.includes(mangled.slice(16, 59)));
  });

  test('a broken config: exit 2 with the config error, no store is created', async () => {
    const file = join(tempDir(), 'broken.yaml');
    const db = join(tempDir(), 'broken', 'w.db');
    writeFileSync(file, `upstreams: { notes: { url: "ftp://x" } }\nstore: { sqlite: ${JSON.stringify(db)} }\n`);
    const run = await keys(file, 'list');
    assert.equal(run.code, 2);
    assert.match(run.stderr, /configuration error/);
    assert.equal(existsSync(db), false);
  });

  test('the store file named by the config holds no key', async () => {
    const { file, db } = config();
    const k = await createJson(file, '--subject', 'alice', '--scope', 'notes:read');
    const bytes = Buffer.concat(['', '-wal'].map((s) => `${db}${s}`).filter(existsSync).map((f) => readFileSync(f)));
    assert.equal(bytes.indexOf(k.key.slice(16, 59)), -1);
  });

  test('create, rotate and revoke are admin records in the audit chain, naming the key id, never the key', async () => {
    const { file } = config();
    const k = await createJson(file, '--subject', 'alice', '--tenant', 'acme', '--scope', 'notes:read');
    const rotated = JSON.parse((await keys(file, 'rotate', k.id, '--grace', '0s', '--json')).stdout) as Created;
    assert.equal((await keys(file, 'revoke', rotated.id)).code, 0);
    const run = await warden(['audit', 'query', '--event', 'admin', '--json', '--config', file]);
    assert.equal(run.code, 0, run.stderr);
    const records = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { method: string; target: string; reason: string; event: string; subject: string });
    assert.deepEqual(records.map((r) => [r.method, r.target]), [['keys.create', k.id], ['keys.rotate', k.id], ['keys.revoke', rotated.id]]);
    assert.match(records[0]!.reason, /for alice \(tenant acme\): scopes notes:read/);
    assert.match(records[1]!.reason, new RegExp(`replaced by ${rotated.id}`));
    assert.ok(records.every((r) => r.event === 'admin' && r.subject.length > 0));
    assert.ok(!run.stdout.includes(k.key.slice(16, 59)) && !run.stdout.includes(rotated.key.slice(16, 59)));
    assert.equal((await warden(['audit', 'verify', '--config', file])).code, 0);
  });
});
