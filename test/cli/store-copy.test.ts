import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { warden, type Run } from '../helpers/cli.js';
import { cliConfigs } from '../helpers/cli-config.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { REDIS_URL, deleteKeys, testPrefix } from '../helpers/redis.js';
import { startGateway } from '../helpers/gateway.js';
import { startHttpUpstream } from '../helpers/upstreams.js';
import { connectClient } from '../helpers/client.js';
import { PASSWORD } from '../helpers/oauth.js';
import { basicAuth, obtainTokens, probeMcp, refresh, rememberAs, tokenRequest } from '../helpers/oauth-flow.js';
import { SqliteStore, SQLITE_MIGRATIONS } from '../../src/store/index.js';
import type { CopyCounts } from '../../src/store/copy.js';
import type { ConfigInput } from '../../src/config/index.js';

/** `warden store copy` as users run it: a SQLite store built by the real CLI and gateway, moved into PostgreSQL. */

// Only its temporary folder (and the check that the CLI is built): the configs here are written below.
const { tempDir } = cliConfigs('store-copy', { auth: '' });
let n = 0;

const AUTHORIZATION = { scopes: { 'echo:use': { upstreams: ['web'], tools: ['echo'] } }, roles: { reader: ['echo:use'] } };

/** The deployment's config, written once per store kind: everything but `store` is the same on both sides. */
function configs(upstreamUrl: string): { shape: Pick<ConfigInput, 'upstreams' | 'auth' | 'authorization'>; sqlite: string; db: string; postgres: string; redis: { keyPrefix: string } } {
  const dir = tempDir();
  const id = ++n;
  const db = join(dir, `s${id}`, 'warden.db');
  const shape: Pick<ConfigInput, 'upstreams' | 'auth' | 'authorization'> = { upstreams: { web: { url: upstreamUrl } }, auth: { apiKeys: {}, oauth: { clientCredentials: true } }, authorization: AUTHORIZATION };
  const sqlite = join(dir, `sqlite${id}.yaml`);
  const postgres = join(dir, `pg${id}.yaml`);
  writeFileSync(sqlite, JSON.stringify({ ...shape, store: { sqlite: db } }));
  // Redis keys of this test's own: no bucket or sign-in count of another test file or run is shared.
  const redis = { keyPrefix: testPrefix() };
  writeFileSync(postgres, JSON.stringify({ ...shape, redis, store: { postgres: '${DATABASE_URL}', redis: '${REDIS_URL}' } }));
  return { shape, sqlite, db, postgres, redis };
}

const envOf = (schema: TestSchema) => ({ DATABASE_URL: schema.url, REDIS_URL });

function ok(run: Run): Run {
  assert.equal(run.code, 0, run.stderr);
  return run;
}

async function createKey(file: string, ...extra: string[]): Promise<{ id: string; key: string }> {
  return JSON.parse(ok(await warden(['keys', 'create', '--config', file, '--subject', 'alice', '--scope', 'echo:use', '--json', ...extra])).stdout) as { id: string; key: string };
}

/** A small source store made by the CLI: two keys and their admin records. */
async function smallSource(): Promise<{ sqlite: string; db: string; postgres: string }> {
  const c = configs('http://127.0.0.1:9/mcp');
  await createKey(c.sqlite);
  await createKey(c.sqlite);
  return c;
}

async function inSchema<T>(fn: (schema: TestSchema, sql: (text: string) => Promise<pg.QueryResult>) => Promise<T>): Promise<T> {
  const schema = await createTestSchema();
  const client = new pg.Client({ connectionString: schema.url });
  await client.connect();
  try {
    return await fn(schema, (text) => client.query(text));
  } finally {
    await client.end();
    await schema.drop();
  }
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

interface CopyJson {
  from: string;
  to: string;
  copied: CopyCounts;
  oauthModels: Record<string, number>;
  auditChains: Array<{ instance: string; records: number }>;
  dryRun: boolean;
}

async function callEcho(url: string, bearer: string): Promise<string> {
  const { client } = await connectClient(url, { authorization: `Bearer ${bearer}` });
  try {
    return JSON.stringify((await client.callTool({ name: 'echo', arguments: { text: 'moved' } })).content);
  } finally {
    await client.close();
  }
}

describe('warden store copy', { concurrency: true }, () => {
  test('a store built by the CLI and a gateway on SQLite serves the same keys, users, clients, tokens and revocations from PostgreSQL, and its audit chains verify there', async (t) => {
    const upstream = await startHttpUpstream({ stateful: false, json: true });
    const schema = await createTestSchema();
    const c = configs(upstream.url);
    t.after(async () => {
      await upstream.close();
      await schema.drop();
      await deleteKeys(c.redis.keyPrefix);
    });

    // Through the CLI: an active key, a revoked one, a rotated one (no grace), two users, a service client.
    const active = await createKey(c.sqlite);
    const revoked = await createKey(c.sqlite);
    ok(await warden(['keys', 'revoke', revoked.id, '--config', c.sqlite]));
    const old = await createKey(c.sqlite);
    const rotated = JSON.parse(ok(await warden(['keys', 'rotate', old.id, '--grace', '0s', '--config', c.sqlite, '--json'])).stdout) as { key: string };
    for (const user of ['carol', 'dave']) ok(await warden(['users', 'add', user, '--role', 'reader', '--password-stdin', '--config', c.sqlite], {}, 15_000, `${PASSWORD}\n`));
    const service = JSON.parse(ok(await warden(['clients', 'add', '--name', 'nightly', '--scope', 'echo:use', '--config', c.sqlite, '--json'])).stdout) as { client_id: string; client_secret: string };

    // Through a gateway on SQLite: sign-ins with tokens, audited tool calls, a revocation.
    const gw1 = await startGateway({ ...c.shape, store: { sqlite: c.db }, audit: { instance: 'gw-sqlite' } }, [], { configuredAudit: true });
    const resource = `${gw1.url}/mcp/web`;
    let carol, dave, jwks;
    try {
      carol = await obtainTokens(gw1.url, { username: 'carol', password: PASSWORD, resource, scope: 'echo:use' });
      dave = await obtainTokens(gw1.url, { username: 'dave', password: PASSWORD, resource, scope: 'echo:use' });
      assert.match(await callEcho(resource, active.key), /moved/);
      assert.match(await callEcho(resource, carol.access_token), /moved/);
      jwks = await (await fetch(`${gw1.url}/oauth/jwks`)).json();
    } finally {
      await gw1.close();
    }
    ok(await warden(['tokens', 'revoke', '--user', 'dave', '--config', c.sqlite]));
    const before = sha256(c.db);

    const run = ok(await warden(['store', 'copy', '--from', c.db, '--config', c.postgres, '--json'], envOf(schema), 30_000));
    const copied = JSON.parse(run.stdout) as CopyJson;
    assert.equal(copied.from, c.db);
    assert.equal(copied.dryRun, false);
    assert.deepEqual([copied.copied.apiKeys, copied.copied.users], [4, 2]);
    assert.ok(copied.copied.signingKeys >= 2 && copied.copied.revocations >= 1 && copied.copied.auditRecords > 5, JSON.stringify(copied.copied));
    assert.ok(copied.oauthModels.Client! >= 2 && copied.oauthModels.Grant === 1 && copied.oauthModels.RefreshToken === 1, JSON.stringify(copied.oauthModels));
    assert.ok(copied.auditChains.some((ch) => ch.instance === 'gw-sqlite'), JSON.stringify(copied.auditChains));
    assert.match(run.stderr, /API keys: 4 of 4 copied/);
    assert.equal(sha256(c.db), before, 'the source file is not changed');

    // The same address: the issuer and the resources in the tokens are the same.
    const gw2 = await startGateway({
      ...c.shape, listen: { host: '127.0.0.1', port: Number(new URL(gw1.url).port) }, store: { postgres: schema.url, redis: REDIS_URL }, redis: c.redis, audit: { instance: 'gw-pg' },
    }, [], { configuredAudit: true });
    try {
      assert.equal(gw2.url, gw1.url);
      assert.deepEqual(await (await fetch(`${gw2.url}/oauth/jwks`)).json(), jwks, 'the signing keys came along');
      assert.match(await callEcho(resource, active.key), /moved/, 'the active key works');
      assert.match(await callEcho(resource, rotated.key), /moved/, 'the rotated key works');
      assert.equal((await probeMcp(resource, revoked.key)).status, 401, 'the revoked key is refused');
      assert.equal((await probeMcp(resource, old.key)).status, 401, 'the key rotated away is refused');
      assert.match(await callEcho(resource, carol.access_token), /moved/, 'an access token issued before the copy works');
      assert.equal((await probeMcp(resource, dave.access_token)).status, 401, 'a token revoked before the copy stays revoked');
      const refreshed = await refresh(gw2.url, carol.clientId, carol.refresh_token, { resource });
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.json));
      rememberAs('token', refreshed.json.access_token, refreshed.json.refresh_token);
      assert.equal((await probeMcp(resource, refreshed.json.access_token)).status, 200);
      assert.equal((await refresh(gw2.url, dave.clientId, dave.refresh_token, { resource })).status, 400, 'a revoked grant\'s refresh token is gone');
      const again = await obtainTokens(gw2.url, { username: 'carol', password: PASSWORD, resource, scope: 'echo:use', client: { client_id: carol.clientId } });
      assert.equal((await probeMcp(resource, again.access_token)).status, 200, 'the user signs in with the same password, with the client registered before');
      const cc = await tokenRequest(gw2.url, { grant_type: 'client_credentials', resource, scope: 'echo:use' }, basicAuth(service.client_id, service.client_secret));
      assert.equal(cc.status, 200, JSON.stringify(cc.json));
      rememberAs('token', cc.json.access_token);
      assert.match(await callEcho(resource, cc.json.access_token), /moved/, 'the service client added by the CLI works with its secret');
    } finally {
      await gw2.close();
    }

    const verify = ok(await warden(['audit', 'verify', '--config', c.postgres, '--json'], envOf(schema)));
    const verified = JSON.parse(verify.stdout) as { ok: boolean; chains: Array<{ instance: string; ok: boolean; records: number }> };
    assert.equal(verified.ok, true, verify.stdout);
    const instances = verified.chains.map((ch) => ch.instance);
    for (const chain of copied.auditChains) assert.ok(instances.includes(chain.instance), `${chain.instance} in ${instances.join(', ')}`);
    assert.ok(instances.includes('gw-pg'));
    const admin = ok(await warden(['audit', 'query', '--event', 'admin', '--config', c.postgres, '--json'], envOf(schema)));
    const record = admin.stdout.trim().split('\n').map((line) => JSON.parse(line) as { method: string; target: string; reason: string; instance: string }).find((r) => r.method === 'store.copy');
    assert.ok(record, admin.stdout);
    assert.equal(record.target, c.db);
    assert.match(record.instance, /^cli@/);
    assert.match(record.reason, /copied from SQLite into postgres:\/\/postgres@127\.0\.0\.1:5432\/test: 4 API keys, \d+ signing keys, 2 users/);
  });

  test('into a store that holds data: refused, saying what is there and how to fix it; the target is left as it was', () => inSchema(async (schema, sql) => {
    const c = await smallSource();
    ok(await warden(['store', 'copy', '--from', c.db, '--config', c.postgres], envOf(schema)));
    const state = async () => (await sql('SELECT instance, seq, hash FROM audit_records ORDER BY instance, seq')).rows;
    const was = await state();
    const again = await warden(['store', 'copy', '--from', c.db, '--config', c.postgres], envOf(schema));
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already holds warden data \(2 API keys, 3 audit records\).*never merges.*new database or a new schema/);
    assert.deepEqual(await state(), was);
    assert.equal((await sql('SELECT count(*)::int AS n FROM api_keys')).rows[0].n, 2);
  }));

  test('a source that is not a warden store (missing, a text file, another SQLite database) or is at an older schema: refused, nothing is written', () => inSchema(async (schema, sql) => {
    const c = await smallSource();
    const dir = tempDir();
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'not a database\n'.repeat(100));
    const other = join(dir, 'other.db');
    const db = new Database(other);
    db.exec('CREATE TABLE things (id INTEGER PRIMARY KEY)');
    db.close();
    const cases: Array<[string, RegExp]> = [
      [join(dir, 'missing.db'), /missing\.db is not a warden SQLite store: there is no such file; name the file that store\.sqlite names/],
      [text, /notes\.txt is not a warden SQLite store: file is not a database/],
      [other, /other\.db is not a warden SQLite store: it has no schema_migrations table/],
    ];
    for (const [from, message] of cases) {
      const run = await warden(['store', 'copy', '--from', from, '--config', c.postgres], envOf(schema));
      assert.equal(run.code, 1, from);
      assert.match(run.stderr, message);
    }
    const olderDb = join(dir, 'older.db');
    await new SqliteStore(olderDb, { migrations: SQLITE_MIGRATIONS.slice(0, -1) }).close();
    const older = await warden(['store', 'copy', '--from', olderDb, '--config', c.postgres], envOf(schema));
    assert.equal(older.code, 1);
    assert.match(older.stderr, /older\.db is at schema version \d+, older than this warden's \(\d+\); open it once with this version/);
    assert.equal((await sql("SELECT to_regclass('schema_migrations')::text AS t")).rows[0].t, null, 'the target was not even migrated');
  }));

  test('a config whose store is SQLite: exit 2, the target must be PostgreSQL', async () => {
    const c = await smallSource();
    const run = await warden(['store', 'copy', '--from', c.db, '--config', c.sqlite]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /store is SQLite .*copies into PostgreSQL: give it a config whose store is \{ postgres/);
  });

  test('--dry-run --json: the counts, and nothing changes (the target is not even migrated); the password of the URL is nowhere', () => inSchema(async (schema, sql) => {
    const c = await smallSource();
    const withPassword = new URL(schema.url);
    withPassword.password = 'hunter2-secret';
    const run = ok(await warden(['store', 'copy', '--from', c.db, '--config', c.postgres, '--dry-run', '--json'], { DATABASE_URL: withPassword.href, REDIS_URL }));
    const json = JSON.parse(run.stdout) as CopyJson;
    assert.deepEqual(Object.keys(json).sort(), ['auditChains', 'copied', 'dryRun', 'from', 'oauthModels', 'to']);
    assert.deepEqual(json.copied, { apiKeys: 2, signingKeys: 0, users: 0, oauthModels: 0, revocations: 0, auditAnchors: 0, auditRecords: 2 });
    assert.equal(json.dryRun, true);
    assert.equal(json.to, 'postgres://postgres@127.0.0.1:5432/test');
    assert.ok(!`${run.stdout}${run.stderr}`.includes('hunter2-secret'));
    assert.equal((await sql("SELECT to_regclass('schema_migrations')::text AS t")).rows[0].t, null);
    const human = ok(await warden(['store', 'copy', '--from', c.db, '--config', c.postgres, '--dry-run'], envOf(schema)));
    assert.match(human.stdout, /^would copy 2 API keys, 2 audit records from .* into postgres:\/\/postgres@127\.0\.0\.1:5432\/test\n[\s\S]*dry run: nothing was copied/);
  }));
});
