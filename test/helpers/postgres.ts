import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore } from '../../src/store/index.js';
import { ApiKeys, type NewApiKey } from '../../src/credentials/index.js';
import { recordSecret } from './secret-sweep.js';

/**
 * The machine's PostgreSQL (trust auth, database `test`). Tests that use it fail, never skip, when it is down.
 * Each test gets a schema of its own, named warden_test_<random>, set as the search_path of every connection
 * through the URL's `options`, and dropped at the end.
 */
export const PG_BASE_URL = process.env.WARDEN_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestSchema {
  name: string;
  /** A URL whose connections use the schema. */
  url: string;
  drop(): Promise<void>;
}

export async function createTestSchema(): Promise<TestSchema> {
  const name = `warden_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_BASE_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA ${name}`);
  } finally {
    await admin.end();
  }
  const url = `${PG_BASE_URL}${PG_BASE_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${name}`)}`;
  return {
    name,
    url,
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_BASE_URL });
      await c.connect();
      try {
        await c.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * A PostgreSQL store that several gateway instances of one test share: a schema of its own, the config's
 * `store` for each instance (each may reach Redis at another URL, e.g. through a proxy the test cuts), and API
 * keys made in it as `warden keys create` would. `drop()` at the end.
 */
export async function sharedTestStore(): Promise<{
  schema: TestSchema;
  store(redisUrl: string): { postgres: string; redis: string };
  createKey(input: NewApiKey): Promise<{ id: string; key: string }>;
  drop(): Promise<void>;
}> {
  const schema = await createTestSchema();
  return {
    schema,
    store: (redis) => ({ postgres: schema.url, redis }),
    createKey: async (input) => {
      const store = await openStore({ store: { postgres: schema.url, redis: 'redis://127.0.0.1:1', poolSize: 1, statementTimeout: 5_000 } }, { announce: false });
      try {
        const { key, view } = await new ApiKeys(store.apiKeys).create(input);
        recordSecret('api_key', key);
        return { id: view.id, key };
      } finally {
        await store.close();
      }
    },
    drop: () => schema.drop(),
  };
}
