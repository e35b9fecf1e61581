import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { copyStore, type CopyOptions } from '../../src/store/copy.js';
import { openStore, SqliteStore, StoreError, type Store } from '../../src/store/index.js';
import { sealAuditRecord } from '../../src/audit/index.js';
import { verifyAuditChains } from '../../src/audit/verify.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { oauthRecord } from '../helpers/cli-config.js';

/**
 * copyStore below the CLI: what a SQLite store holds reads back the same from PostgreSQL through the Store
 * interfaces (order included), and a failure in the middle leaves the target empty.
 */

const HOUR = 3_600_000;
const T0 = Date.parse('2026-01-05T10:00:00Z');

const record = (instance: string, n: number, ts: number) => ({ ts: new Date(ts).toISOString(), instance, event: 'call', subject: `user-${n}`, decision: 'allow', reason: 'test' });

/** A store with a row of every kind, two audit chains (one pruned, so it starts at an anchor), more rows than a batch. */
async function seed(store: Store): Promise<void> {
  const now = Date.now();
  const key = (id: string, extra: Record<string, unknown> = {}) => ({
    id, hash: `h-${id}`, subject: 'alice', tenant: null, name: id, scopes: ['notes:read'], roles: [], createdAt: T0, expiresAt: null, lastUsedAt: null, revokedAt: null, replacedBy: null, ...extra,
  });
  await store.apiKeys.insert(key('k-active', { lastUsedAt: T0 + 5 }));
  await store.apiKeys.insert(key('k-revoked', { revokedAt: T0 + 10 }));
  await store.apiKeys.rotate('k-active', key('k-new', { createdAt: T0 + 20 }), now + HOUR);
  await store.signingKeys.insert({ kid: 'sk-1', use: 'oauth-token', alg: 'ES256', privateJwk: '{"d":"x"}', publicJwk: '{"x":"y"}', createdAt: T0, retiredAt: null });
  await store.signingKeys.insert({ kid: 'sk-0', use: 'oauth-token', alg: 'ES256', privateJwk: '{"d":"w"}', publicJwk: '{"x":"z"}', createdAt: T0 - HOUR, retiredAt: now + HOUR });
  await store.users.insert({ username: 'carol', passwordHash: 'scrypt$fake', roles: ['reader'], tenant: 'acme', displayName: 'Carol', createdAt: T0, disabledAt: null, passwordChangedAt: T0, failedLogins: 2, lockedUntil: null });
  await store.users.insert({ username: 'Bob', passwordHash: 'scrypt$fake2', roles: [], tenant: null, displayName: null, createdAt: T0, disabledAt: T0 + 1, passwordChangedAt: T0, failedLogins: 0, lockedUntil: now + HOUR });
  // Saved out of id order, so that list order (first save) differs from any sort of the ids.
  for (const id of ['c-9', 'c-1', 'c-5']) await store.oauth.upsert(oauthRecord('Client', id, { client_id: id }));
  await store.oauth.upsert(oauthRecord('Grant', 'g-1', { accountId: 'carol', clientId: 'c-1' }, { expiresAt: now + HOUR }));
  await store.oauth.upsert(oauthRecord('RefreshToken', 'rt-1', { accountId: 'carol', clientId: 'c-1', grantId: 'g-1' }, { grantId: 'g-1', expiresAt: now + HOUR, consumedAt: now - 5 }));
  await store.oauth.upsert(oauthRecord('DeviceCode', 'dc-1', { clientId: 'c-5' }, { userCode: 'ABCD-EFGH', expiresAt: now + HOUR }));
  await store.oauth.upsert(oauthRecord('Interaction', 'i-1', {}, { uid: 'uid-1', expiresAt: now + HOUR }));
  await store.revocations.add({ kind: 'grant', value: 'g-old' }, now - 1_000, now + HOUR);
  await store.revocations.add({ kind: 'jti', value: 'jti-1' }, now - 1_000, now + HOUR);
  await store.audit.append('gw-1', Array.from({ length: 7 }, (_, i) => record('gw-1', i, T0 + i * HOUR)), sealAuditRecord);
  await store.audit.prune(T0 + 3 * HOUR);
  await store.audit.append('gw-1', [record('gw-1', 99, now)], sealAuditRecord);
  await store.audit.append('cli@host', Array.from({ length: 5 }, (_, i) => record('cli@host', i, now + i)), sealAuditRecord);
}

/** Everything a store answers through its interfaces, for comparing two stores. */
async function everything(store: Store) {
  const now = Date.now();
  const oauth = Object.fromEntries(await Promise.all(['Client', 'Grant', 'RefreshToken', 'DeviceCode', 'Interaction'].map(async (m) => [m, await store.oauth.list({ model: m }, now)] as const)));
  return {
    apiKeys: await store.apiKeys.list({ includeInactive: true }, now),
    signingKeys: await store.signingKeys.list('oauth-token', 0),
    users: await store.users.list(),
    oauth,
    byUserCode: await store.oauth.findByUserCode('DeviceCode', 'ABCD-EFGH', now),
    byUid: await store.oauth.findByUid('Interaction', 'uid-1', now),
    revoked: [
      await store.revocations.anyRevoked([{ kind: 'grant', value: 'g-old' }], now - 10_000),
      await store.revocations.anyRevoked([{ kind: 'jti', value: 'jti-1' }], now),
    ],
    chains: await store.audit.chains(),
    audit: await store.audit.query({ limit: 1_000 }),
  };
}

async function withStores(fn: (source: { path: string; store: SqliteStore }, schema: TestSchema, sql: (text: string) => Promise<pg.QueryResult>) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-copy-'));
  const schema = await createTestSchema();
  const client = new pg.Client({ connectionString: schema.url });
  await client.connect();
  const path = join(dir, 'w.db');
  const store = new SqliteStore(path);
  try {
    await fn({ path, store }, schema, (text) => client.query(text));
  } finally {
    await store.close();
    await client.end();
    await schema.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const target = (schema: TestSchema): CopyOptions['to'] => ({ postgres: schema.url, redis: 'redis://127.0.0.1:6379', poolSize: 2, statementTimeout: 5_000 });

async function tableCounts(sql: (text: string) => Promise<pg.QueryResult>): Promise<Record<string, number>> {
  const tables = ['api_keys', 'signing_keys', 'users', 'oauth_models', 'oauth_revocations', 'audit_anchors', 'audit_records'];
  const { rows } = await sql(`SELECT ${tables.map((t) => `(SELECT count(*)::int FROM ${t}) AS ${t}`).join(', ')}`);
  return rows[0] as Record<string, number>;
}

describe('copyStore (SQLite into PostgreSQL)', { concurrency: true }, () => {
  test('every row reads back the same through the Store interfaces, in the same order; the audit chains verify, anchors included', () => withStores(async (source, schema) => {
    await seed(source.store);
    const progress: string[] = [];
    // A batch of 2: every table of more than two rows goes in several statements.
    const result = await copyStore({ from: source.path, to: target(schema), batchSize: 2, onProgress: (t, copied, total) => progress.push(`${t.kind} ${copied}/${total}`) });
    assert.deepEqual(result.copied, { apiKeys: 3, signingKeys: 2, users: 2, oauthModels: 7, revocations: 2, auditAnchors: 1, auditRecords: 10 });
    assert.deepEqual(result.oauthModels, { Client: 3, DeviceCode: 1, Grant: 1, Interaction: 1, RefreshToken: 1 });
    assert.deepEqual(result.auditChains, [{ instance: 'cli@host', records: 5 }, { instance: 'gw-1', records: 5 }]);
    assert.equal(result.to, 'postgres://postgres@127.0.0.1:5432/test');
    assert.ok(progress.includes('auditRecords 2/10') && progress.includes('auditRecords 10/10') && progress.includes('revocations 2/2'), progress.join(', '));

    const copied = await openStore({ store: target(schema) }, { announce: false });
    try {
      assert.deepEqual(await everything(copied), await everything(source.store));
      const verified = await verifyAuditChains(copied.audit);
      assert.equal(verified.ok, true, JSON.stringify(verified));
      assert.deepEqual(verified.chains.map((c) => [c.instance, c.records]), [['cli@host', 5], ['gw-1', 5]]);
      // The copy continues: a new record seals after the copied head.
      await copied.audit.append('gw-1', [record('gw-1', 100, Date.now())], sealAuditRecord);
      assert.equal((await verifyAuditChains(copied.audit)).ok, true);
    } finally {
      await copied.close();
    }
  }));

  test('the copy\'s own audit record commits with it, after the copied chain of the same instance', () => withStores(async (source, schema) => {
    await seed(source.store);
    await copyStore({
      from: source.path, to: target(schema),
      audit: { instance: 'cli@host', seal: sealAuditRecord, record: (r) => ({ ...record('cli@host', 0, Date.now()), event: 'admin', reason: `copied ${r.copied.apiKeys} keys` }) },
    });
    const copied = await openStore({ store: target(schema) }, { announce: false });
    try {
      const chain = (await verifyAuditChains(copied.audit)).chains.find((c) => c.instance === 'cli@host');
      assert.equal(chain?.ok, true);
      assert.equal(chain?.records, 6);
      const [last] = await copied.audit.query({ instance: 'cli@host', event: 'admin' });
      assert.match(JSON.parse(last!.body).reason, /copied 3 keys/);
    } finally {
      await copied.close();
    }
  }));

  test('a failure in the middle (a trigger refuses the 3rd audit record) leaves the target empty, the copy\'s record included', () => withStores(async (source, schema, sql) => {
    await seed(source.store);
    await (await openStore({ store: target(schema) }, { announce: false })).close(); // migrated, as start-up would
    await sql(`CREATE SEQUENCE ${schema.name}.inserted;
      CREATE FUNCTION ${schema.name}.refuse_third() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF nextval('${schema.name}.inserted') >= 3 THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$;
      CREATE TRIGGER refuse_third BEFORE INSERT ON ${schema.name}.audit_records FOR EACH ROW EXECUTE FUNCTION ${schema.name}.refuse_third();`);
    await assert.rejects(
      copyStore({ from: source.path, to: target(schema), batchSize: 2, audit: { instance: 'cli@host', seal: sealAuditRecord, record: () => record('cli@host', 0, Date.now()) } }),
      (err: unknown) => err instanceof StoreError && err.code === 'unavailable' && /P0001/.test(err.message),
    );
    assert.deepEqual(await tableCounts(sql), { api_keys: 0, signing_keys: 0, users: 0, oauth_models: 0, oauth_revocations: 0, audit_anchors: 0, audit_records: 0 });
  }));

  test('a target that holds warden data is refused with what is there and the fix, and left as it was; a dry run refuses it too', () => withStores(async (source, schema, sql) => {
    await seed(source.store);
    const other = await openStore({ store: target(schema) }, { announce: false });
    await other.users.insert({ username: 'dave', passwordHash: 'x', roles: [], tenant: null, displayName: null, createdAt: T0, disabledAt: null, passwordChangedAt: T0, failedLogins: 0, lockedUntil: null });
    await other.close();
    for (const dryRun of [false, true]) {
      await assert.rejects(copyStore({ from: source.path, to: target(schema), dryRun }), (err: unknown) => {
        assert.ok(err instanceof StoreError && err.code === 'not_empty', String(err));
        assert.match(err.message, /already holds warden data \(1 user\).*never merges.*new database or a new schema/);
        return true;
      });
    }
    assert.deepEqual(await tableCounts(sql), { api_keys: 0, signing_keys: 0, users: 1, oauth_models: 0, oauth_revocations: 0, audit_anchors: 0, audit_records: 0 });
  }));

  test('a large store (20,000 audit records, 1,000 API keys) is copied whole, page by page; the time is reported, not asserted', (t) => withStores(async (source, schema) => {
    const batch = Array.from({ length: 1_000 }, (_, i) => record('gw-1', i, T0 + i));
    for (let i = 0; i < 20; i++) await source.store.audit.append('gw-1', batch, sealAuditRecord);
    for (let i = 0; i < 1_000; i++) {
      await source.store.apiKeys.insert({ id: `k${i}`, hash: `h${i}`, subject: 's', tenant: null, name: null, scopes: [], roles: [], createdAt: T0, expiresAt: null, lastUsedAt: null, revokedAt: null, replacedBy: null });
    }
    const started = performance.now();
    const result = await copyStore({ from: source.path, to: target(schema) });
    const ms = performance.now() - started;
    assert.equal(result.copied.auditRecords, 20_000);
    assert.equal(result.copied.apiKeys, 1_000);
    t.diagnostic(`copy of 20,000 audit records and 1,000 API keys: ${Math.round(ms)} ms`);
  }));
});
