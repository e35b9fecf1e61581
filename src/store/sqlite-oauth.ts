import type Database from 'better-sqlite3';
import { OAUTH_MODEL_COLUMNS, toOAuthModel, type OAuthModelRow } from './rows.js';
import { ReadCache, type ChangeWatch } from './sqlite-read-cache.js';
import type {
  OAuthModelFilter, OAuthModelRecord, OAuthModelStore, RevocationEntry, RevocationStore,
} from './types.js';

const COLUMNS = OAUTH_MODEL_COLUMNS;
const LIVE = '(expires_at IS NULL OR expires_at > @now)';

/**
 * Statements prepared on first use, not when the store opens: a store file at an older schema (tests of
 * upgrades) has no such tables and must still open.
 */
export function lazyStatements<K extends string>(db: Database.Database, sql: Record<K, string>): Record<K, Database.Statement> {
  const prepared = new Map<K, Database.Statement>();
  return new Proxy({} as Record<K, Database.Statement>, {
    get: (_target, name: string) => {
      const key = name as K;
      let stmt = prepared.get(key);
      if (!stmt) {
        stmt = db.prepare(sql[key]);
        prepared.set(key, stmt);
      }
      return stmt;
    },
  });
}

export class SqliteOAuthModels implements OAuthModelStore {
  private readonly s;

  constructor(private readonly db: Database.Database) {
    this.s = lazyStatements(db, {
      // An upsert keeps consumed_at: the provider re-saves consumed tokens (e.g. a code's payload) without it.
      upsert: `INSERT INTO oauth_models (${COLUMNS})
        VALUES (@model, @id, @payload, @grantId, @userCode, @uid, @expiresAt, @consumedAt)
        ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
          user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at,
          consumed_at = COALESCE(oauth_models.consumed_at, excluded.consumed_at)`,
      find: `SELECT ${COLUMNS} FROM oauth_models WHERE model = @model AND id = @id AND ${LIVE}`,
      findByUid: `SELECT ${COLUMNS} FROM oauth_models WHERE model = @model AND uid = @uid AND ${LIVE}`,
      findByUserCode: `SELECT ${COLUMNS} FROM oauth_models WHERE model = @model AND user_code = @userCode AND ${LIVE}`,
      consume: 'UPDATE oauth_models SET consumed_at = COALESCE(consumed_at, @at) WHERE model = @model AND id = @id',
      destroy: 'DELETE FROM oauth_models WHERE model = @model AND id = @id',
      revoke: 'DELETE FROM oauth_models WHERE model = @model AND grant_id = @grantId',
      purge: 'DELETE FROM oauth_models WHERE expires_at IS NOT NULL AND expires_at <= @now',
    });
  }

  async upsert(record: OAuthModelRecord): Promise<void> {
    this.s.upsert.run(record);
  }

  async find(model: string, id: string, now: number): Promise<OAuthModelRecord | undefined> {
    const row = this.s.find.get({ model, id, now }) as OAuthModelRow | undefined;
    return row && toOAuthModel(row);
  }

  async findByUid(model: string, uid: string, now: number): Promise<OAuthModelRecord | undefined> {
    const row = this.s.findByUid.get({ model, uid, now }) as OAuthModelRow | undefined;
    return row && toOAuthModel(row);
  }

  async findByUserCode(model: string, userCode: string, now: number): Promise<OAuthModelRecord | undefined> {
    const row = this.s.findByUserCode.get({ model, userCode, now }) as OAuthModelRow | undefined;
    return row && toOAuthModel(row);
  }

  async consume(model: string, id: string, at: number): Promise<void> {
    this.s.consume.run({ model, id, at });
  }

  async destroy(model: string, id: string): Promise<void> {
    this.s.destroy.run({ model, id });
  }

  async revokeByGrantId(model: string, grantId: string): Promise<number> {
    return this.s.revoke.run({ model, grantId }).changes;
  }

  async list(filter: OAuthModelFilter, now: number): Promise<OAuthModelRecord[]> {
    const where = ['model = @model', LIVE];
    if (filter.accountId !== undefined) where.push('account_id = @accountId');
    if (filter.clientId !== undefined) where.push('client_id = @clientId');
    if (filter.grantId !== undefined) where.push('grant_id = @grantId');
    const sql = `SELECT ${COLUMNS} FROM oauth_models WHERE ${where.join(' AND ')} ORDER BY rowid DESC`;
    return (this.db.prepare(sql).all({ ...filter, now }) as OAuthModelRow[]).map(toOAuthModel);
  }

  async purgeExpired(now: number): Promise<number> {
    return this.s.purge.run({ now }).changes;
  }
}

export class SqliteRevocations implements RevocationStore {
  private readonly s;
  private readonly checks = new Map<number, Database.Statement>();
  /** Asked on every request that carries a JWT: answered from here until the database may have changed. */
  private readonly cache: ReadCache<boolean>;

  constructor(private readonly db: Database.Database, private readonly watch: ChangeWatch) {
    this.cache = new ReadCache(watch);
    this.s = lazyStatements(db, {
      add: `INSERT INTO oauth_revocations (kind, value, revoked_at, expires_at) VALUES (@kind, @value, @revokedAt, @expiresAt)
        ON CONFLICT (kind, value) DO UPDATE SET revoked_at = MAX(revoked_at, excluded.revoked_at), expires_at = MAX(expires_at, excluded.expires_at)`,
      purge: 'DELETE FROM oauth_revocations WHERE expires_at <= ?',
    });
  }

  async add(entry: RevocationEntry, revokedAt: number, expiresAt: number): Promise<void> {
    this.watch.changed();
    this.s.add.run({ ...entry, revokedAt, expiresAt });
  }

  async anyRevoked(entries: readonly RevocationEntry[], issuedAt: number): Promise<boolean> {
    if (entries.length === 0) return false;
    const key = `${issuedAt}\u0000${entries.map((e) => `${e.kind}\u0000${e.value}`).join('\u0000')}`;
    return this.cache.get(key, () => {
      // One primary-key probe per entry, in one statement.
      let stmt = this.checks.get(entries.length);
      if (!stmt) {
        const probes = entries.map(() => '(kind = ? AND value = ?)').join(' OR ');
        stmt = this.db.prepare(`SELECT 1 FROM oauth_revocations WHERE revoked_at >= ? AND (${probes}) LIMIT 1`);
        this.checks.set(entries.length, stmt);
      }
      return stmt.get(issuedAt, ...entries.flatMap((e) => [e.kind, e.value])) !== undefined;
    });
  }

  async purgeExpired(now: number): Promise<number> {
    this.watch.changed();
    return this.s.purge.run(now).changes;
  }
}
