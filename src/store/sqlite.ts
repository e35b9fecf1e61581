import Database from 'better-sqlite3';
import { toApiKey, toSigningKey, type ApiKeyRow, type SigningKeyRow } from './rows.js';
import { ChangeWatch, ReadCache } from './sqlite-read-cache.js';
import { closeSync, mkdirSync, openSync, chmodSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  StoreError, type ApiKeyFilter, type ApiKeyRecord, type ApiKeyStore, type SigningKeyRecord, type SigningKeyStore, type Store,
} from './types.js';
import { SqliteOAuthModels, SqliteRevocations } from './sqlite-oauth.js';
import { SqliteUsers } from './sqlite-users.js';
import { SQLITE_MIGRATIONS, type Migration } from './sqlite-migrations.js';
import { SqliteAuditStore } from './sqlite-audit.js';

export interface SqliteStoreOptions {
  /** Migrations to apply; the default is the project's schema (tests pass their own to test upgrades). */
  migrations?: readonly Migration[];
  /**
   * NORMAL (default): a commit survives a process crash, an OS crash or power loss can lose the last ones.
   * FULL: the WAL is synced on every commit, so not even those (each commit then waits for the disk).
   */
  synchronous?: 'NORMAL' | 'FULL';
}

/**
 * The default store: one SQLite file in WAL mode, so that `warden keys` can write while `warden serve` reads.
 * better-sqlite3 is synchronous; a primary-key lookup takes microseconds, which is cheaper than a thread hop,
 * so the async interface simply wraps the calls.
 */
export class SqliteStore implements Store {
  readonly apiKeys: ApiKeyStore;
  readonly signingKeys: SigningKeyStore;
  readonly audit: SqliteAuditStore;
  readonly oauth: SqliteOAuthModels;
  readonly revocations: SqliteRevocations;
  readonly users: SqliteUsers;
  private readonly db: Database.Database;

  constructor(readonly location: string, options: SqliteStoreOptions = {}) {
    this.db = openDatabase(location, options.synchronous ?? 'NORMAL');
    try {
      migrate(this.db, location, options.migrations ?? SQLITE_MIGRATIONS);
    } catch (err) {
      this.db.close();
      throw err;
    }
    const watch = new ChangeWatch(this.db);
    this.apiKeys = new SqliteApiKeys(this.db, watch);
    this.signingKeys = new SqliteSigningKeys(this.db);
    this.audit = new SqliteAuditStore(this.db);
    this.oauth = new SqliteOAuthModels(this.db);
    this.revocations = new SqliteRevocations(this.db, watch);
    this.users = new SqliteUsers(this.db);
  }

  /** The schema version the file is at (the highest migration applied). */
  schemaVersion(): number {
    return (this.db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations').get() as { v: number }).v;
  }

  async ping(): Promise<void> {
    if (!this.db.open) throw new StoreError('unavailable', 'the store is closed');
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function openDatabase(location: string, synchronous: 'NORMAL' | 'FULL'): Database.Database {
  // Checked here because it is spliced into a pragma, and options may come from untyped JavaScript.
  if (synchronous !== 'NORMAL' && synchronous !== 'FULL') throw new StoreError('unavailable', `synchronous must be NORMAL or FULL, got ${String(synchronous)}`);
  if (location !== ':memory:') {
    try {
      mkdirSync(dirname(location), { recursive: true, mode: 0o700 });
      // Created owner-only before SQLite opens it; SQLite gives the -wal and -shm files the same mode.
      closeSync(openSync(location, 'a', 0o600));
      chmodSync(location, 0o600);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new StoreError('unavailable', `cannot create the store file ${location} (${e.code ?? e.message}); set store.sqlite to a writable path`);
    }
  }
  let db: Database.Database;
  try {
    db = new Database(location, { timeout: 5_000 });
    db.pragma('journal_mode = WAL');
    // WAL + NORMAL: a commit survives a process crash; only an OS crash can lose the last transactions.
    db.pragma(`synchronous = ${synchronous}`);
    db.pragma('foreign_keys = ON');
  } catch (err) {
    throw new StoreError('unavailable', `cannot open the store ${location}: ${(err as Error).message}`);
  }
  return db;
}

function migrate(db: Database.Database, location: string, migrations: readonly Migration[]): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT');
  // IMMEDIATE: two processes starting at once do not both apply the same migration.
  db.transaction(() => {
    const current = (db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations').get() as { v: number }).v;
    const newest = migrations.at(-1)?.version ?? 0;
    if (current > newest) {
      throw new StoreError('schema_too_new', `the store ${location} is at schema version ${current}, newer than this warden knows (${newest}); upgrade warden`);
    }
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of migrations) {
      if (m.version <= current) continue;
      db.exec(m.sql);
      record.run(m.version, m.name, Date.now());
    }
  }).immediate();
}

class SqliteApiKeys implements ApiKeyStore {
  private readonly insertStmt: Database.Statement;
  private readonly getStmt: Database.Statement<[string]>;
  private readonly revokeStmt: Database.Statement;
  private readonly replaceStmt: Database.Statement;
  private readonly touchStmt: Database.Statement;
  private readonly rotateTx: Database.Transaction<(oldId: string, replacement: ApiKeyRecord, oldExpiresAt: number) => boolean>;
  /** Every authenticated request reads its key: answered from here until the database may have changed. */
  private readonly cache: ReadCache<ApiKeyRecord | undefined>;

  constructor(private readonly db: Database.Database, private readonly watch: ChangeWatch) {
    this.cache = new ReadCache(watch);
    this.insertStmt = db.prepare(`INSERT INTO api_keys (id, hash, subject, tenant, name, scopes, roles, created_at, expires_at, last_used_at, revoked_at, replaced_by)
      VALUES (@id, @hash, @subject, @tenant, @name, @scopes, @roles, @createdAt, @expiresAt, @lastUsedAt, @revokedAt, @replacedBy)`);
    this.getStmt = db.prepare('SELECT * FROM api_keys WHERE id = ?');
    this.revokeStmt = db.prepare('UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?');
    this.replaceStmt = db.prepare(`UPDATE api_keys SET replaced_by = ?, expires_at = MIN(COALESCE(expires_at, ?), ?)
      WHERE id = ? AND revoked_at IS NULL AND replaced_by IS NULL`);
    this.touchStmt = db.prepare('UPDATE api_keys SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE id = ?');
    this.rotateTx = db.transaction((oldId: string, replacement: ApiKeyRecord, oldExpiresAt: number) => {
      const changed = this.replaceStmt.run(replacement.id, oldExpiresAt, oldExpiresAt, oldId).changes;
      if (changed === 0) return false;
      this.insertRow(replacement);
      return true;
    });
  }

  private insertRow(key: ApiKeyRecord): void {
    this.watch.changed();
    try {
      this.insertStmt.run({ ...key, scopes: JSON.stringify(key.scopes), roles: JSON.stringify(key.roles) });
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new StoreError('conflict', `an API key with id ${key.id} exists already`);
      throw err;
    }
  }

  async insert(key: ApiKeyRecord): Promise<void> {
    this.insertRow(key);
  }

  /** The record is shared with later callers: it is frozen. */
  async get(id: string): Promise<ApiKeyRecord | undefined> {
    return this.cache.get(id, () => {
      const row = this.getStmt.get(id) as ApiKeyRow | undefined;
      return row ? Object.freeze(toApiKey(row)) : undefined;
    });
  }

  async list(filter: ApiKeyFilter, now: number): Promise<ApiKeyRecord[]> {
    const where: string[] = [];
    const params: Record<string, unknown> = { now };
    if (filter.subject !== undefined) {
      where.push('subject = @subject');
      params.subject = filter.subject;
    }
    if (filter.tenant !== undefined) {
      where.push('tenant = @tenant');
      params.tenant = filter.tenant;
    }
    if (!filter.includeInactive) where.push('revoked_at IS NULL AND (expires_at IS NULL OR expires_at > @now)');
    const sql = `SELECT * FROM api_keys${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id`;
    return (this.db.prepare(sql).all(params) as ApiKeyRow[]).map(toApiKey);
  }

  async revoke(id: string, at: number): Promise<boolean> {
    this.watch.changed();
    return this.revokeStmt.run(at, id).changes > 0;
  }

  async rotate(oldId: string, replacement: ApiKeyRecord, oldExpiresAt: number): Promise<boolean> {
    this.watch.changed();
    return this.rotateTx.immediate(oldId, replacement, oldExpiresAt);
  }

  async touch(id: string, at: number): Promise<void> {
    this.watch.changed();
    this.touchStmt.run(at, id);
  }
}

class SqliteSigningKeys implements SigningKeyStore {
  private readonly insertStmt: Database.Statement;
  private readonly listStmt: Database.Statement;
  private readonly retireStmt: Database.Statement;
  private readonly activeStmt: Database.Statement;
  private readonly insertIfNoneTx: Database.Transaction<(key: SigningKeyRecord, now: number) => boolean>;

  constructor(db: Database.Database) {
    this.insertStmt = db.prepare(`INSERT INTO signing_keys (kid, use, alg, private_jwk, public_jwk, created_at, retired_at)
      VALUES (@kid, @use, @alg, @privateJwk, @publicJwk, @createdAt, @retiredAt)`);
    this.listStmt = db.prepare('SELECT * FROM signing_keys WHERE use = ? AND (retired_at IS NULL OR retired_at > ?) ORDER BY created_at DESC, kid');
    this.retireStmt = db.prepare('UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND retired_at IS NULL');
    this.activeStmt = db.prepare('SELECT 1 FROM signing_keys WHERE use = ? AND (retired_at IS NULL OR retired_at > ?) LIMIT 1');
    this.insertIfNoneTx = db.transaction((key: SigningKeyRecord, now: number) => {
      if (this.activeStmt.get(key.use, now) !== undefined) return false;
      this.insertStmt.run(key);
      return true;
    });
  }

  async insertIfNoneActive(key: SigningKeyRecord, now: number): Promise<boolean> {
    // IMMEDIATE: the check and the insert hold the file's write lock together, so two processes starting at
    // once create one key.
    try {
      return this.insertIfNoneTx.immediate(key, now);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new StoreError('conflict', `a signing key with kid ${key.kid} exists already`);
      throw err;
    }
  }

  async insert(key: SigningKeyRecord): Promise<void> {
    try {
      this.insertStmt.run(key);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new StoreError('conflict', `a signing key with kid ${key.kid} exists already`);
      throw err;
    }
  }

  async list(use: string, publishedSince: number): Promise<SigningKeyRecord[]> {
    return (this.listStmt.all(use, publishedSince) as SigningKeyRow[]).map(toSigningKey);
  }

  async retire(kid: string, at: number): Promise<boolean> {
    return this.retireStmt.run(at, kid).changes > 0;
  }
}
