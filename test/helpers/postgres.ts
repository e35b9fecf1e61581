import { randomBytes } from 'node:crypto';
import pg from 'pg';

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
