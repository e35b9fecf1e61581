import type { Migration } from './sqlite-migrations.js';
import { lockInSchema, type PgClient, type PgDatabase } from './postgres-pool.js';
import { StoreError } from './types.js';

/**
 * The PostgreSQL schema, append-only like the SQLite one: a released migration is never edited. Times are
 * epoch ms in bigint; every list has an explicit order column (never the physical order of rows).
 */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'keys, signing keys, per-instance audit chains, oauth models, revocations, users',
    sql: `
      CREATE TABLE api_keys (
        id           text PRIMARY KEY,
        hash         text NOT NULL,
        subject      text NOT NULL,
        tenant       text,
        name         text,
        scopes       text NOT NULL,
        roles        text NOT NULL,
        created_at   bigint NOT NULL,
        expires_at   bigint,
        last_used_at bigint,
        revoked_at   bigint,
        replaced_by  text
      );
      CREATE INDEX api_keys_subject ON api_keys (tenant, subject);

      CREATE TABLE signing_keys (
        kid          text PRIMARY KEY,
        use          text NOT NULL,
        alg          text NOT NULL,
        private_jwk  text NOT NULL,
        public_jwk   text NOT NULL,
        created_at   bigint NOT NULL,
        retired_at   bigint
      );
      CREATE INDEX signing_keys_use ON signing_keys (use, created_at);

      -- One hash chain per instance. As in SQLite, body is the hashed text and the only truth: the query
      -- columns are computed from it, so no write can make a column say what the hashed text does not.
      -- COLLATE "C": the merged order (ts, instance, seq) is byte order, as in SQLite, whatever the locale.
      CREATE TABLE audit_records (
        instance   text COLLATE "C" NOT NULL,
        seq        bigint NOT NULL,
        body       text NOT NULL,
        prev_hash  text NOT NULL,
        hash       text NOT NULL,
        ts         text COLLATE "C" GENERATED ALWAYS AS ((body::jsonb) ->> 'ts') STORED,
        event      text GENERATED ALWAYS AS ((body::jsonb) ->> 'event') STORED,
        subject    text GENERATED ALWAYS AS ((body::jsonb) ->> 'subject') STORED,
        target     text GENERATED ALWAYS AS ((body::jsonb) ->> 'target') STORED,
        decision   text GENERATED ALWAYS AS ((body::jsonb) ->> 'decision') STORED,
        upstream   text GENERATED ALWAYS AS ((body::jsonb) ->> 'upstream') STORED,
        PRIMARY KEY (instance, seq)
      );
      CREATE INDEX audit_records_ts ON audit_records (ts, instance, seq);
      CREATE INDEX audit_records_subject ON audit_records (subject, ts);
      CREATE INDEX audit_records_target ON audit_records (target, ts);

      -- Where each instance's stored chain starts once retention pruned its beginning: the last pruned record.
      CREATE TABLE audit_anchors (
        instance  text COLLATE "C" PRIMARY KEY,
        seq       bigint NOT NULL,
        hash      text NOT NULL
      );

      CREATE TABLE oauth_models (
        seq         bigint GENERATED ALWAYS AS IDENTITY,
        model       text NOT NULL,
        id          text NOT NULL,
        payload     text NOT NULL,
        grant_id    text,
        user_code   text,
        uid         text,
        expires_at  bigint,
        consumed_at bigint,
        account_id  text GENERATED ALWAYS AS ((payload::jsonb) ->> 'accountId') STORED,
        client_id   text GENERATED ALWAYS AS ((payload::jsonb) ->> 'clientId') STORED,
        PRIMARY KEY (model, id)
      );
      CREATE INDEX oauth_models_grant ON oauth_models (grant_id) WHERE grant_id IS NOT NULL;
      CREATE INDEX oauth_models_user_code ON oauth_models (user_code) WHERE user_code IS NOT NULL;
      CREATE INDEX oauth_models_uid ON oauth_models (uid) WHERE uid IS NOT NULL;
      CREATE INDEX oauth_models_expiry ON oauth_models (expires_at) WHERE expires_at IS NOT NULL;
      CREATE INDEX oauth_models_account ON oauth_models (model, account_id);
      CREATE INDEX oauth_models_client ON oauth_models (model, client_id);

      CREATE TABLE oauth_revocations (
        kind       text NOT NULL CHECK (kind IN ('grant', 'user', 'client', 'jti')),
        value      text NOT NULL,
        revoked_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        PRIMARY KEY (kind, value)
      );

      CREATE TABLE users (
        username            text PRIMARY KEY,
        password_hash       text NOT NULL,
        roles               text NOT NULL,
        tenant              text,
        display_name        text,
        created_at          bigint NOT NULL,
        disabled_at         bigint,
        password_changed_at bigint NOT NULL,
        failed_logins       integer NOT NULL DEFAULT 0,
        locked_until        bigint
      );
    `,
  },
];

export interface MigrationStatus {
  /** The version the database is at (0: empty). */
  current: number;
  /** The newest version this warden knows. */
  newest: number;
  /** Migrations that would run, in order. */
  pending: Array<{ version: number; name: string }>;
}

const CREATE_VERSION_TABLE = 'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)';

async function currentVersion(client: PgClient): Promise<number> {
  const exists = await client.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
  if (exists.rows[0]?.t == null) return 0;
  return (await client.query<{ v: number }>('SELECT COALESCE(MAX(version), 0)::bigint AS v FROM schema_migrations')).rows[0]!.v;
}

export async function migrationStatus(db: PgDatabase, migrations: readonly Migration[] = POSTGRES_MIGRATIONS): Promise<MigrationStatus> {
  const current = await currentVersion(db);
  const newest = migrations.at(-1)?.version ?? 0;
  return { current, newest, pending: migrations.filter((m) => m.version > current).map((m) => ({ version: m.version, name: m.name })) };
}

/**
 * Applies the pending migrations in one transaction under an advisory lock, so that N instances (or N
 * `warden migrate`s) starting at once run each migration once: the others wait for the lock, then find
 * nothing left to do. Returns the migrations this call applied.
 */
export async function applyMigrations(db: PgDatabase, migrations: readonly Migration[] = POSTGRES_MIGRATIONS, only: 'all' | 'if-empty' = 'all'): Promise<Array<{ version: number; name: string }>> {
  return db.transaction(async (client) => {
    await lockInSchema(client, 'migrate');
    const current = await currentVersion(client);
    const newest = migrations.at(-1)?.version ?? 0;
    if (current > newest) throw tooNew(db.location, current, newest);
    if (only === 'if-empty' && current > 0) return [];
    await client.query(CREATE_VERSION_TABLE);
    const applied: Array<{ version: number; name: string }> = [];
    for (const m of migrations) {
      if (m.version <= current) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
      applied.push({ version: m.version, name: m.name });
    }
    return applied;
  });
}

/**
 * What start-up does: an empty database is migrated (the first start of a new deployment needs no extra
 * step); a database at an older version is refused, since upgrading a shared schema is the operator's step
 * (instances of the old version may still be serving from it); a newer one is refused too.
 */
export async function checkSchema(db: PgDatabase, migrations: readonly Migration[] = POSTGRES_MIGRATIONS): Promise<void> {
  await applyMigrations(db, migrations, 'if-empty');
  const { current, newest } = await migrationStatus(db, migrations);
  if (current > newest) throw tooNew(db.location, current, newest);
  if (current < newest) {
    throw new StoreError('schema_too_old', `the database ${db.location} is at schema version ${current}, older than this warden needs (${newest}); run \`warden migrate\` with the same config, then start again`);
  }
}

function tooNew(location: string, current: number, newest: number): StoreError {
  return new StoreError('schema_too_new', `the database ${location} is at schema version ${current}, newer than this warden knows (${newest}); upgrade the gateway (every instance and the CLI) to a version that knows it`);
}
