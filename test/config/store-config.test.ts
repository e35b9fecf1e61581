import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText, ConfigError, type ConfigIssue } from '../../src/config/index.js';
import { redactUrl, hostPortOf } from '../../src/shared/connection-url.js';

const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;
const NOTES = ['upstreams:', '  notes:', '    url: http://127.0.0.1:3000/mcp'];
const PASSWORD = 's3cr3t-pw-in-url';
const ENV = { DATABASE_URL: `postgres://warden:${PASSWORD}@db.internal:5432/warden`, REDIS_URL: `redis://:${PASSWORD}@redis.internal:6379` };

function issuesOf(text: string, env: NodeJS.ProcessEnv = ENV): ConfigIssue[] {
  try {
    parseConfigText(text, 'warden.yaml', env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    // Whatever the mistake, no message carries the password of a connection string.
    assert.ok(!err.message.includes(PASSWORD), err.message);
    return err.issues;
  }
  assert.fail('expected a ConfigError');
}

describe('store config', () => {
  test('the default is the SQLite file, unchanged', () => {
    const { config } = parseConfigText(yaml(...NOTES), 'warden.yaml', {});
    assert.deepEqual(config.store, { sqlite: './.warden/warden.db', synchronous: 'normal' });
  });

  test('sqlite with synchronous: full', () => {
    const { config } = parseConfigText(yaml('store: { sqlite: ./x.db, synchronous: full }', ...NOTES), 'warden.yaml', {});
    assert.deepEqual(config.store, { sqlite: './x.db', synchronous: 'full' });
  });

  test('postgres and redis from the environment, with defaults for the pool and the statement timeout', () => {
    const { config, secrets } = parseConfigText(yaml('store: { postgres: "${DATABASE_URL}", redis: "${REDIS_URL}" }', ...NOTES), 'warden.yaml', ENV);
    assert.deepEqual(config.store, { postgres: ENV.DATABASE_URL, redis: ENV.REDIS_URL, poolSize: 10, statementTimeout: 5_000 });
    assert.ok(secrets.has(ENV.DATABASE_URL), 'an interpolated URL counts as a secret');
  });

  test('poolSize and statementTimeout', () => {
    const { config } = parseConfigText(yaml('store: { postgres: "${DATABASE_URL}", redis: "${REDIS_URL}", poolSize: 4, statementTimeout: 2s }', ...NOTES), 'warden.yaml', ENV);
    assert.deepEqual(config.store, { postgres: ENV.DATABASE_URL, redis: ENV.REDIS_URL, poolSize: 4, statementTimeout: 2_000 });
  });

  test('a mix of sqlite and postgres is one error that says how to fix it', () => {
    const issues = issuesOf(yaml('store: { sqlite: ./x.db, postgres: "${DATABASE_URL}", redis: "${REDIS_URL}" }', ...NOTES));
    assert.equal(issues.length, 1, JSON.stringify(issues));
    assert.equal(issues[0]!.path, 'store.sqlite');
    assert.match(issues[0]!.message, /either \{ sqlite: FILE \} or \{ postgres: URL, redis: URL \}.*remove sqlite/);
  });

  test('synchronous with postgres is a mix too', () => {
    const issues = issuesOf(yaml('store: { synchronous: full, postgres: "${DATABASE_URL}", redis: "${REDIS_URL}" }', ...NOTES));
    assert.equal(issues.length, 1);
    assert.match(issues[0]!.message, /mixes synchronous/);
  });

  test('postgres without redis is refused, naming what to add', () => {
    const issues = issuesOf(yaml('store: { postgres: "${DATABASE_URL}" }', ...NOTES));
    assert.equal(issues.length, 1);
    assert.equal(issues[0]!.path, 'store.postgres');
    assert.match(issues[0]!.message, /add redis: "\$\{REDIS_URL\}"/);
  });

  test('redis or poolSize without postgres is refused', () => {
    const issues = issuesOf(yaml('store: { redis: "${REDIS_URL}", poolSize: 3 }', ...NOTES));
    assert.equal(issues.length, 1);
    assert.match(issues[0]!.message, /PostgreSQL only; add postgres/);
  });

  test('a postgres value that is not a postgres:// URL is refused without echoing it', () => {
    const env = { DATABASE_URL: `mysql://root:${PASSWORD}@db/x`, REDIS_URL: ENV.REDIS_URL };
    const issues = issuesOf(yaml('store: { postgres: "${DATABASE_URL}", redis: "${REDIS_URL}" }', ...NOTES), env);
    assert.equal(issues[0]!.path, 'store.postgres');
    assert.match(issues[0]!.message, /expected a postgres:\/\/ URL/);
  });

  test('an unknown key in store is refused', () => {
    const issues = issuesOf(yaml('store: { sqlite: ./x.db, mysql: x }', ...NOTES));
    assert.ok(issues.some((i) => i.path.startsWith('store')), JSON.stringify(issues));
  });
});

describe('connection URL redaction', () => {
  test('the password is replaced, the rest kept', () => {
    assert.equal(redactUrl(ENV.DATABASE_URL), 'postgres://warden:***@db.internal:5432/warden');
    assert.equal(redactUrl(`postgres://u@h/db?password=${PASSWORD}&sslmode=require`), 'postgres://u@h/db?password=***&sslmode=require');
    assert.equal(redactUrl(`not a url ${PASSWORD}`), '(unparseable URL)');
  });

  test('host and port, with the default port', () => {
    assert.equal(hostPortOf('postgres://u:p@db:6543/x', 5432), 'db:6543');
    assert.equal(hostPortOf('postgres://u:p@db/x', 5432), 'db:5432');
  });
});
