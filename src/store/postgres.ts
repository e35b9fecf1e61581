import { LocalChangeFeed } from './change-feed.js';
import { toApiKey, toSigningKey, type ApiKeyRow, type SigningKeyRow } from './rows.js';
import { PgDatabase, lockInSchema, type PgPoolOptions } from './postgres-pool.js';
import { checkSchema, POSTGRES_MIGRATIONS } from './postgres-migrations.js';
import { PostgresAuditStore } from './postgres-audit.js';
import { PostgresOAuthModels, PostgresRevocations } from './postgres-oauth.js';
import { PostgresUsers } from './postgres-users.js';
import { PgReadCache } from './postgres-read-cache.js';
import type { Migration } from './sqlite-migrations.js';
import {
  StoreError, type ApiKeyFilter, type ApiKeyRecord, type ApiKeyStore, type ChangeFeed, type SigningKeyRecord, type SigningKeyStore, type Store,
} from './types.js';

export interface PostgresStoreOptions extends PgPoolOptions {
  /**
   * Tells the read caches (API key by id, anyRevoked) that another instance changed those tables. The
   * default, an in-process counter, cannot hear other instances, so with it the caches are off: every read
   * goes to PostgreSQL, and a revoke anywhere holds on the next request. A shared feed (Redis) turns them on.
   */
  changeFeed?: ChangeFeed;
  /** Called by close() before the pool closes (a feed the store opened for itself). */
  onClose?: () => Promise<void>;
  /** Migrations (tests pass their own to test versions). */
  migrations?: readonly Migration[];
}

/**
 * The store for several instances: one PostgreSQL database shared by every gateway and the CLI. Opening it
 * checks the schema version (an empty database is migrated; an older or newer one is refused with the command
 * that fixes it), so nothing runs against a schema it was not written for.
 */
export class PostgresStore implements Store {
  readonly apiKeys: PostgresApiKeys;
  readonly signingKeys: PostgresSigningKeys;
  readonly audit: PostgresAuditStore;
  readonly oauth: PostgresOAuthModels;
  readonly revocations: PostgresRevocations;
  readonly users: PostgresUsers;
  readonly location: string;

  private constructor(readonly db: PgDatabase, feed: ChangeFeed, private readonly onClose?: () => Promise<void>) {
    this.location = db.location;
    this.apiKeys = new PostgresApiKeys(db, feed);
    this.signingKeys = new PostgresSigningKeys(db);
    this.audit = new PostgresAuditStore(db);
    this.oauth = new PostgresOAuthModels(db);
    this.revocations = new PostgresRevocations(db, feed);
    this.users = new PostgresUsers(db);
  }

  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const db = new PgDatabase(options);
    try {
      await checkSchema(db, options.migrations ?? POSTGRES_MIGRATIONS);
    } catch (err) {
      await db.close();
      throw err;
    }
    return new PostgresStore(db, options.changeFeed ?? new LocalChangeFeed(), options.onClose);
  }

  async ping(): Promise<void> {
    await this.db.query('SELECT 1');
  }

  async close(): Promise<void> {
    // The feed first: announcing this process's last changes needs nothing of the pool.
    await this.onClose?.().catch(() => {});
    await this.db.close();
  }
}

const INSERT_KEY = `INSERT INTO api_keys (id, hash, subject, tenant, name, scopes, roles, created_at, expires_at, last_used_at, revoked_at, replaced_by)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`;

function keyParams(k: ApiKeyRecord): unknown[] {
  return [k.id, k.hash, k.subject, k.tenant, k.name, JSON.stringify(k.scopes), JSON.stringify(k.roles), k.createdAt, k.expiresAt, k.lastUsedAt, k.revokedAt, k.replacedBy];
}

class PostgresApiKeys implements ApiKeyStore {
  private readonly cache: PgReadCache<ApiKeyRecord | undefined>;

  constructor(private readonly db: PgDatabase, private readonly feed: ChangeFeed) {
    this.cache = new PgReadCache(feed);
  }

  async insert(key: ApiKeyRecord): Promise<void> {
    try {
      await this.db.query(INSERT_KEY, keyParams(key));
    } catch (err) {
      throw conflictAs(err, `an API key with id ${key.id} exists already`);
    } finally {
      this.feed.changed();
    }
  }

  /** Every authenticated request reads its key: a named prepared statement, and the cache behind a shared feed. */
  async get(id: string): Promise<ApiKeyRecord | undefined> {
    return this.cache.get(id, async () => {
      const { rows } = await this.db.query<ApiKeyRow>({ name: 'warden_api_key_get', text: 'SELECT * FROM api_keys WHERE id = $1', values: [id] });
      return rows[0] ? Object.freeze(toApiKey(rows[0])) : undefined;
    });
  }

  async list(filter: ApiKeyFilter, now: number): Promise<ApiKeyRecord[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    if (filter.subject !== undefined) where.push(`subject = $${values.push(filter.subject)}`);
    if (filter.tenant !== undefined) where.push(`tenant = $${values.push(filter.tenant)}`);
    if (!filter.includeInactive) where.push(`revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $${values.push(now)})`);
    const sql = `SELECT * FROM api_keys${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id`;
    return (await this.db.query<ApiKeyRow>(sql, values)).rows.map(toApiKey);
  }

  async revoke(id: string, at: number): Promise<boolean> {
    try {
      return ((await this.db.query('UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2', [at, id])).rowCount ?? 0) > 0;
    } finally {
      this.feed.changed();
    }
  }

  async rotate(oldId: string, replacement: ApiKeyRecord, oldExpiresAt: number): Promise<boolean> {
    try {
      return await this.db.transaction(async (client) => {
        const changed = await client.query(
          `UPDATE api_keys SET replaced_by = $1, expires_at = LEAST(COALESCE(expires_at, $2), $2)
            WHERE id = $3 AND revoked_at IS NULL AND replaced_by IS NULL`,
          [replacement.id, oldExpiresAt, oldId],
        );
        if ((changed.rowCount ?? 0) === 0) return false;
        try {
          await client.query(INSERT_KEY, keyParams(replacement));
        } catch (err) {
          throw conflictAs(err, `an API key with id ${replacement.id} exists already`);
        }
        return true;
      });
    } finally {
      this.feed.changed();
    }
  }

  async touch(id: string, at: number): Promise<void> {
    // Not a change the cache must hear of: last use is not what authentication decides on, and telling every
    // instance on each (throttled) touch would empty their caches for nothing.
    await this.db.query({ name: 'warden_api_key_touch', text: 'UPDATE api_keys SET last_used_at = GREATEST(COALESCE(last_used_at, 0), $1) WHERE id = $2', values: [at, id] });
  }
}

const INSERT_SIGNING_KEY = 'INSERT INTO signing_keys (kid, use, alg, private_jwk, public_jwk, created_at, retired_at) VALUES ($1, $2, $3, $4, $5, $6, $7)';

function signingParams(k: SigningKeyRecord): unknown[] {
  return [k.kid, k.use, k.alg, k.privateJwk, k.publicJwk, k.createdAt, k.retiredAt];
}

class PostgresSigningKeys implements SigningKeyStore {
  constructor(private readonly db: PgDatabase) {}

  async insert(key: SigningKeyRecord): Promise<void> {
    try {
      await this.db.query(INSERT_SIGNING_KEY, signingParams(key));
    } catch (err) {
      throw conflictAs(err, `a signing key with kid ${key.kid} exists already`);
    }
  }

  async insertIfNoneActive(key: SigningKeyRecord, now: number): Promise<boolean> {
    // The lock makes check-then-insert atomic across instances: the second one waits, then sees the first's key.
    return this.db.transaction(async (client) => {
      await lockInSchema(client, 'signing keys');
      const active = await client.query('SELECT 1 FROM signing_keys WHERE use = $1 AND (retired_at IS NULL OR retired_at > $2) LIMIT 1', [key.use, now]);
      if ((active.rowCount ?? 0) > 0) return false;
      try {
        await client.query(INSERT_SIGNING_KEY, signingParams(key));
      } catch (err) {
        throw conflictAs(err, `a signing key with kid ${key.kid} exists already`);
      }
      return true;
    });
  }

  async list(use: string, publishedSince: number): Promise<SigningKeyRecord[]> {
    const { rows } = await this.db.query<SigningKeyRow>(
      'SELECT * FROM signing_keys WHERE use = $1 AND (retired_at IS NULL OR retired_at > $2) ORDER BY created_at DESC, kid',
      [use, publishedSince],
    );
    return rows.map(toSigningKey);
  }

  async retire(kid: string, at: number): Promise<boolean> {
    return ((await this.db.query('UPDATE signing_keys SET retired_at = $1 WHERE kid = $2 AND retired_at IS NULL', [at, kid])).rowCount ?? 0) > 0;
  }
}

/** A unique violation (already a StoreError('conflict') from the pool) with the model's own message. */
export function conflictAs(err: unknown, message: string): unknown {
  return err instanceof StoreError && err.code === 'conflict' ? new StoreError('conflict', message) : err;
}
