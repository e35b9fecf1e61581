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
  {
    version: 2,
    name: 'tamper-evident audit chain',
    // `body` is the hashed text and the only truth: the query columns are computed from it by SQLite, so no
    // write can make a column say something the hashed text does not. VIRTUAL: nothing is stored twice; the
    // indexes hold the computed values, and SQLite recomputes them on every write to `body` (so, in a STRICT
    // table, text that is not JSON cannot be written there at all).
    sql: `
      CREATE TABLE audit_records (
        seq        INTEGER PRIMARY KEY,
        body       TEXT NOT NULL,   -- canonical JSON of the record, naming its own seq and prevHash
        prev_hash  TEXT NOT NULL,
        hash       TEXT NOT NULL,   -- hex SHA-256 of body
        ts         TEXT GENERATED ALWAYS AS (json_extract(body, '$.ts')) VIRTUAL,
        event      TEXT GENERATED ALWAYS AS (json_extract(body, '$.event')) VIRTUAL,
        subject    TEXT GENERATED ALWAYS AS (json_extract(body, '$.subject')) VIRTUAL,
        target     TEXT GENERATED ALWAYS AS (json_extract(body, '$.target')) VIRTUAL,
        decision   TEXT GENERATED ALWAYS AS (json_extract(body, '$.decision')) VIRTUAL,
        method     TEXT GENERATED ALWAYS AS (json_extract(body, '$.method')) VIRTUAL
      ) STRICT;
      CREATE INDEX audit_records_ts ON audit_records (ts);
      CREATE INDEX audit_records_subject ON audit_records (subject, ts);
      CREATE INDEX audit_records_target ON audit_records (target, ts);

      -- Where the stored chain starts once retention has pruned its beginning: the last pruned record.
      CREATE TABLE audit_anchor (
        id    INTEGER PRIMARY KEY CHECK (id = 1),
        seq   INTEGER NOT NULL,
        hash  TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 3,
    name: 'oauth models, revocation list and users',
    sql: `
      -- What oidc-provider stores through its adapter: one row per model instance, payload as JSON.
      CREATE TABLE oauth_models (
        model       TEXT NOT NULL,
        id          TEXT NOT NULL,
        payload     TEXT NOT NULL,
        grant_id    TEXT,
        user_code   TEXT,
        uid         TEXT,
        expires_at  INTEGER,
        consumed_at INTEGER,
        account_id  TEXT GENERATED ALWAYS AS (json_extract(payload, '$.accountId')) VIRTUAL,
        client_id   TEXT GENERATED ALWAYS AS (json_extract(payload, '$.clientId')) VIRTUAL,
        PRIMARY KEY (model, id)
      ) STRICT;
      CREATE INDEX oauth_models_grant ON oauth_models (grant_id) WHERE grant_id IS NOT NULL;
      CREATE INDEX oauth_models_user_code ON oauth_models (user_code) WHERE user_code IS NOT NULL;
      CREATE INDEX oauth_models_uid ON oauth_models (uid) WHERE uid IS NOT NULL;
      CREATE INDEX oauth_models_expiry ON oauth_models (expires_at) WHERE expires_at IS NOT NULL;
      CREATE INDEX oauth_models_account ON oauth_models (model, account_id);
      CREATE INDEX oauth_models_client ON oauth_models (model, client_id);

      -- Grants, users, clients and token ids whose self-contained access tokens must be refused before they expire.
      CREATE TABLE oauth_revocations (
        kind       TEXT NOT NULL CHECK (kind IN ('grant', 'user', 'client', 'jti')),
        value      TEXT NOT NULL,
        revoked_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (kind, value)
      ) STRICT;

      CREATE TABLE users (
        username            TEXT PRIMARY KEY,
        password_hash       TEXT NOT NULL,
        roles               TEXT NOT NULL,   -- JSON array
        tenant              TEXT,
        display_name        TEXT,
        created_at          INTEGER NOT NULL,
        disabled_at         INTEGER,
        password_changed_at INTEGER NOT NULL,
        failed_logins       INTEGER NOT NULL DEFAULT 0,
        locked_until        INTEGER
      ) STRICT;
    `,
  },
  {
    version: 4,
    name: 'one audit chain per instance',
    // Each writing instance gets a chain of its own, keyed by (instance, seq). The rows written before keep
    // their links: when they all came from one instance they become that instance's chain (and it continues
    // there if the instance keeps its id), else they stay one chain under the legacy name '' (types.ts
    // LEGACY_AUDIT_CHAIN), since their prevHash links cross instances and splitting them would break them.
    sql: `
      CREATE TABLE audit_records_v4 (
        instance   TEXT NOT NULL,
        seq        INTEGER NOT NULL,
        body       TEXT NOT NULL,
        prev_hash  TEXT NOT NULL,
        hash       TEXT NOT NULL,
        ts         TEXT GENERATED ALWAYS AS (json_extract(body, '$.ts')) VIRTUAL,
        event      TEXT GENERATED ALWAYS AS (json_extract(body, '$.event')) VIRTUAL,
        subject    TEXT GENERATED ALWAYS AS (json_extract(body, '$.subject')) VIRTUAL,
        target     TEXT GENERATED ALWAYS AS (json_extract(body, '$.target')) VIRTUAL,
        decision   TEXT GENERATED ALWAYS AS (json_extract(body, '$.decision')) VIRTUAL,
        method     TEXT GENERATED ALWAYS AS (json_extract(body, '$.method')) VIRTUAL,
        upstream   TEXT GENERATED ALWAYS AS (json_extract(body, '$.upstream')) VIRTUAL,
        PRIMARY KEY (instance, seq)
      ) STRICT;
      CREATE TEMP TABLE audit_legacy_chain AS
        SELECT CASE WHEN COUNT(DISTINCT json_extract(body, '$.instance')) = 1
                     AND COUNT(json_extract(body, '$.instance')) = COUNT(*)
                    THEN MIN(json_extract(body, '$.instance')) ELSE '' END AS name
        FROM audit_records;
      INSERT INTO audit_records_v4 (instance, seq, body, prev_hash, hash)
        SELECT (SELECT name FROM audit_legacy_chain), seq, body, prev_hash, hash FROM audit_records;
      DROP TABLE audit_records;
      ALTER TABLE audit_records_v4 RENAME TO audit_records;
      CREATE INDEX audit_records_ts ON audit_records (ts, instance, seq);
      CREATE INDEX audit_records_subject ON audit_records (subject, ts);
      CREATE INDEX audit_records_target ON audit_records (target, ts);

      CREATE TABLE audit_anchors (
        instance  TEXT PRIMARY KEY,
        seq       INTEGER NOT NULL,
        hash      TEXT NOT NULL
      ) STRICT;
      INSERT INTO audit_anchors (instance, seq, hash) SELECT (SELECT name FROM audit_legacy_chain), seq, hash FROM audit_anchor;
      DROP TABLE audit_anchor;
      DROP TABLE audit_legacy_chain;
    `,
  },
];
