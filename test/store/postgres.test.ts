import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres-migrations.js';
import { lockInSchema } from '../../src/store/postgres-pool.js';
import { openStore, StoreError, type Store } from '../../src/store/index.js';
import { IdentityTokenSigner } from '../../src/credentials/identity-tokens.js';
import { loadAuthorizationServerKeys } from '../../src/authorization-server/keys.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';

/** What only PostgreSQL has: the schema version check, the advisory locks of a concurrent first start, errors. */

async function inSchema(fn: (schema: TestSchema, sql: (text: string) => Promise<pg.QueryResult>, client: pg.Client) => Promise<void>): Promise<void> {
  const schema = await createTestSchema();
  const client = new pg.Client({ connectionString: schema.url });
  await client.connect();
  try {
    await fn(schema, (text) => client.query(text), client);
  } finally {
    await client.end();
    await schema.drop();
  }
}

const open = (schema: TestSchema, migrations = POSTGRES_MIGRATIONS) => PostgresStore.open({ url: schema.url, poolSize: 3, migrations });

describe('PostgresStore', { concurrency: true }, () => {
  test('three stores opened at once on an empty schema: one migration run, then one signing key of each use', () => inSchema(async (schema, sql) => {
    const stores: Store[] = await Promise.all([open(schema), open(schema), open(schema)]);
    try {
      const runs = await sql('SELECT version, applied_at FROM schema_migrations');
      assert.equal(runs.rowCount, POSTGRES_MIGRATIONS.length, 'each migration recorded once');
      // Three gateways loading their keys at the same moment: the identity-token key and the AS's keys.
      await Promise.all(stores.map((s) => IdentityTokenSigner.open(s.signingKeys, { issuer: 'https://gw.example' })));
      await Promise.all(stores.map((s) => loadAuthorizationServerKeys(s.signingKeys, 3_600_000)));
      const keys = await sql('SELECT use, count(*)::int AS n FROM signing_keys GROUP BY use ORDER BY use');
      assert.ok(keys.rows.length >= 2, JSON.stringify(keys.rows));
      for (const row of keys.rows as Array<{ use: string; n: number }>) assert.equal(row.n, 1, `one ${row.use} key, not one per instance`);
    } finally {
      for (const s of stores) await s.close();
    }
  }));

  test('the migration lock is per schema: held in one schema, it holds up that schema\'s start-up and no other\'s', () => inSchema(async (held, sql, client) => {
    const other = await createTestSchema();
    try {
      await sql('BEGIN');
      await lockInSchema(client, 'migrate');
      // Another schema of the same database migrates while the lock is held.
      await (await open(other)).close();
      let opened = false;
      const waiting = open(held).then((store) => {
        opened = true;
        return store;
      });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(opened, false, 'the same schema waits for the lock');
      await sql('COMMIT');
      await (await waiting).close();
    } finally {
      await other.drop();
    }
  }));

  test('a schema newer than the code is refused, naming the versions and saying to upgrade the gateway', () => inSchema(async (schema, sql) => {
    await (await open(schema)).close();
    await sql(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (${POSTGRES_MIGRATIONS.length + 1}, 'from the future', 0)`);
    await assert.rejects(open(schema), (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.equal(err.code, 'schema_too_new');
      assert.match(err.message, new RegExp(`schema version ${POSTGRES_MIGRATIONS.length + 1}, newer than this warden knows \\(${POSTGRES_MIGRATIONS.length}\\); upgrade the gateway`));
      return true;
    });
  }));

  test('a schema older than the code is refused with the command that fixes it; an empty one is migrated', () => inSchema(async (schema) => {
    const next = [...POSTGRES_MIGRATIONS, { version: POSTGRES_MIGRATIONS.length + 1, name: 'next', sql: 'CREATE TABLE next_thing (id int)' }];
    await (await open(schema)).close();
    await assert.rejects(open(schema, next), (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.equal(err.code, 'schema_too_old');
      assert.match(err.message, /run `warden migrate` with the same config/);
      return true;
    });
    // Control: the same code opens the schema it knows.
    await (await open(schema)).close();
  }));

  test('connection refused is unavailable, naming host and port and never the password', async () => {
    const secret = 'pw-that-must-not-leak';
    await assert.rejects(openStore({ store: { postgres: `postgres://warden:${secret}@127.0.0.1:1/test`, redis: 'redis://127.0.0.1:6379', poolSize: 1, statementTimeout: 1_000 } }), (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.equal(err.code, 'unavailable');
      assert.match(err.message, /cannot reach PostgreSQL at 127\.0\.0\.1:1 \(ECONNREFUSED\)/);
      assert.ok(!err.message.includes(secret));
      return true;
    });
  });

  test('a role that does not exist is unavailable (authentication), without the password', async () => {
    const secret = 'another-secret-pw';
    await assert.rejects(PostgresStore.open({ url: `postgres://no_such_role_warden:${secret}@127.0.0.1:5432/test` }), (err: unknown) => {
      assert.ok(err instanceof StoreError, String(err));
      assert.equal(err.code, 'unavailable');
      assert.match(err.message, /127\.0\.0\.1:5432/);
      assert.ok(!err.message.includes(secret));
      return true;
    });
  });

  test('a statement running past statementTimeout is cancelled and reported as unavailable', () => inSchema(async (schema) => {
    // Migrated first with the default timeout; then 1 s, not less: opening takes the migration lock, which
    // other tests' schemas on this database may hold for a moment, and that wait counts as statement time.
    await (await open(schema)).close();
    const store = await PostgresStore.open({ url: schema.url, statementTimeout: 1_000 });
    try {
      await assert.rejects(store.db.query('SELECT pg_sleep(4)'), (err: unknown) => err instanceof StoreError && err.code === 'unavailable' && /statementTimeout/.test(err.message));
      // Control: the pool still serves.
      assert.equal(await store.apiKeys.get('nope'), undefined);
    } finally {
      await store.close();
    }
  }));

  test('location shows user, host, port and database, never the password', () => inSchema(async (schema) => {
    const store = await open(schema);
    try {
      assert.equal(store.location, 'postgres://postgres@127.0.0.1:5432/test');
    } finally {
      await store.close();
    }
  }));
});
