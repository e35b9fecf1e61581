/**
 * The SQLite schema, as an append-only list: a released migration is never edited, only followed by a new
 * one. Each runs once, in a transaction, in order; `schema_migrations` records which have run.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'api keys and signing keys',
    sql: `
      CREATE TABLE api_keys (
        id           TEXT PRIMARY KEY,
        hash         TEXT NOT NULL,
        subject      TEXT NOT NULL,
        tenant       TEXT,
        name         TEXT,
        scopes       TEXT NOT NULL,   -- JSON array
        roles        TEXT NOT NULL,   -- JSON array
        created_at   INTEGER NOT NULL,
        expires_at   INTEGER,
        last_used_at INTEGER,
        revoked_at   INTEGER,
        replaced_by  TEXT
      ) STRICT;
      CREATE INDEX api_keys_subject ON api_keys (tenant, subject);

      CREATE TABLE signing_keys (
        kid          TEXT PRIMARY KEY,
        use          TEXT NOT NULL,
        alg          TEXT NOT NULL,
        private_jwk  TEXT NOT NULL,
        public_jwk   TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        retired_at   INTEGER
      ) STRICT;
      CREATE INDEX signing_keys_use ON signing_keys (use, created_at);
    `,
  },
];
