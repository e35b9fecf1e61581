import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { warden, MAIN } from '../helpers/cli.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres-migrations.js';

let dir: string;
let n = 0;
before(() => {
  assert.ok(existsSync(MAIN), 'build first: npx tsc -p tsconfig.json');
  dir = mkdtempSync(join(tmpdir(), 'warden-migrate-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A config naming the schema's database through ${DATABASE_URL}, as a deployment would. */
function pgConfig(): string {
  const file = join(dir, `pg${++n}.yaml`);
  writeFileSync(file, 'upstreams: { notes: { url: "http://127.0.0.1:9/mcp" } }\nstore: { postgres: "${DATABASE_URL}", redis: "${REDIS_URL}" }\n');
  return file;
}

const env = (schema: TestSchema) => ({ DATABASE_URL: schema.url, REDIS_URL: 'redis://127.0.0.1:6379' });

describe('warden migrate', { concurrency: true }, () => {
  test('--dry-run --json lists what would run and runs nothing; --json runs it; again, nothing is left', async () => {
    const schema = await createTestSchema();
    try {
      const file = pgConfig();
      const dry = await warden(['migrate', '--config', file, '--dry-run', '--json'], env(schema));
      assert.equal(dry.code, 0, dry.stderr);
      const planned = JSON.parse(dry.stdout) as { store: string; location: string; from: number; newest: number; migrations: Array<{ version: number }>; dryRun: boolean };
      assert.deepEqual([planned.store, planned.from, planned.newest, planned.dryRun], ['postgres', 0, POSTGRES_MIGRATIONS.length, true]);
      assert.deepEqual(planned.migrations.map((m) => m.version), POSTGRES_MIGRATIONS.map((m) => m.version));
      assert.equal(planned.location, 'postgres://postgres@127.0.0.1:5432/test');

      const run = await warden(['migrate', '--config', file, '--json'], env(schema));
      assert.equal(run.code, 0, run.stderr);
      const done = JSON.parse(run.stdout) as { from: number; migrations: Array<{ version: number; name: string }>; dryRun: boolean };
      assert.equal(done.from, 0);
      assert.equal(done.dryRun, false);
      assert.equal(done.migrations.length, POSTGRES_MIGRATIONS.length);

      const again = await warden(['migrate', '--config', file], env(schema));
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /at schema version \d+, the newest this warden knows: nothing to do/);
    } finally {
      await schema.drop();
    }
  });

  test('an unreachable database: exit 1, host and port named, the password nowhere', async () => {
    const file = pgConfig();
    const run = await warden(['migrate', '--config', file, '--json'], { DATABASE_URL: 'postgres://warden:hunter2-secret@127.0.0.1:1/x', REDIS_URL: 'redis://127.0.0.1:6379' });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /cannot reach PostgreSQL at 127\.0\.0\.1:1/);
    assert.ok(!`${run.stdout}${run.stderr}`.includes('hunter2-secret'));
  });

  test('SQLite: a no-op that says the store migrates itself', async () => {
    const file = join(dir, `sqlite${++n}.yaml`);
    writeFileSync(file, `upstreams: { notes: { url: "http://127.0.0.1:9/mcp" } }\nstore: { sqlite: ${JSON.stringify(join(dir, `s${n}.db`))} }\n`);
    const run = await warden(['migrate', '--config', file]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /migrates itself when the gateway or any command opens it/);
    const json = JSON.parse((await warden(['migrate', '--config', file, '--json'])).stdout) as { store: string; migrations: unknown[] };
    assert.deepEqual([json.store, json.migrations], ['sqlite', []]);
  });
});
