import type Database from 'better-sqlite3';
import type {
  OAuthModelFilter, OAuthModelRecord, OAuthModelStore, RevocationEntry, RevocationStore,
} from './types.js';

interface OAuthModelRow {
  model: string;
  id: string;
  payload: string;
  grant_id: string | null;
  user_code: string | null;
  uid: string | null;
  expires_at: number | null;
  consumed_at: number | null;
}

function toRecord(r: OAuthModelRow): OAuthModelRecord {
  return {
    model: r.model, id: r.id, payload: r.payload, grantId: r.grant_id, userCode: r.user_code, uid: r.uid,
    expiresAt: r.expires_at, consumedAt: r.consumed_at,
  };
}

const COLUMNS = 'model, id, payload, grant_id, user_code, uid, expires_at, consumed_at';
const LIVE = '(expires_at IS NULL OR expires_at > @now)';

export class SqliteOAuthModels implements OAuthModelStore {
  private readonly upsertStmt: Database.Statement;
  private readonly findStmt: Database.Statement;
  private readonly findByUidStmt: Database.Statement;
  private readonly findByUserCodeStmt: Database.Statement;
  private readonly consumeStmt: Database.Statement;
  private readonly destroyStmt: Database.Statement;
  private readonly revokeStmt: Database.Statement;
  private readonly purgeStmt: Database.Statement;

  constructor(private readonly db: Database.Database) {
    // An upsert keeps consumed_at: the provider re-saves consumed tokens (e.g. a code's payload) without it.
    this.upsertStmt = db.prepare(`INSERT INTO oauth_models (${COLUMNS})
      VALUES (@model, @id, @payload, @grantId, @userCode, @uid, @expiresAt, @consumedAt)
      ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
        user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at,
        consumed_at = COALESCE(oauth_models.consumed_at, excluded.consumed_at)`);
    this.findStmt = db.prepare(`SELECT ${COLUMNS} FROM oauth_models WHERE model = @model AND id = @id AND ${LIVE}`);
    this.findByUidStmt = db.prepare(`SELECT ${COLUMNS} FROM oauth_models WHERE model = @model AND uid = @uid AND ${LIVE}`);
    this.findByUserCodeStmt = db.prepare(`SELECT ${COLUMNS} FROM oauth_models WHERE model = @model AND user_code = @userCode AND ${LIVE}`);
    this.consumeStmt = db.prepare('UPDATE oauth_models SET consumed_at = COALESCE(consumed_at, @at) WHERE model = @model AND id = @id');
    this.destroyStmt = db.prepare('DELETE FROM oauth_models WHERE model = @model AND id = @id');
    this.revokeStmt = db.prepare('DELETE FROM oauth_models WHERE model = @model AND grant_id = @grantId');
    this.purgeStmt = db.prepare('DELETE FROM oauth_models WHERE expires_at IS NOT NULL AND expires_at <= @now');
  }

  async upsert(record: OAuthModelRecord): Promise<void> {
    this.upsertStmt.run(record);
  }

  async find(model: string, id: string, now: number): Promise<OAuthModelRecord | undefined> {
    const row = this.findStmt.get({ model, id, now }) as OAuthModelRow | undefined;
    return row && toRecord(row);
  }

  async findByUid(model: string, uid: string, now: number): Promise<OAuthModelRecord | undefined> {
    const row = this.findByUidStmt.get({ model, uid, now }) as OAuthModelRow | undefined;
    return row && toRecord(row);
  }

  async findByUserCode(model: string, userCode: string, now: number): Promise<OAuthModelRecord | undefined> {
    const row = this.findByUserCodeStmt.get({ model, userCode, now }) as OAuthModelRow | undefined;
    return row && toRecord(row);
  }

  async consume(model: string, id: string, at: number): Promise<void> {
    this.consumeStmt.run({ model, id, at });
  }

  async destroy(model: string, id: string): Promise<void> {
    this.destroyStmt.run({ model, id });
  }

  async revokeByGrantId(model: string, grantId: string): Promise<number> {
    return this.revokeStmt.run({ model, grantId }).changes;
  }

  async list(filter: OAuthModelFilter, now: number): Promise<OAuthModelRecord[]> {
    const where = ['model = @model', LIVE];
    if (filter.accountId !== undefined) where.push('account_id = @accountId');
    if (filter.clientId !== undefined) where.push('client_id = @clientId');
    if (filter.grantId !== undefined) where.push('grant_id = @grantId');
    const sql = `SELECT ${COLUMNS} FROM oauth_models WHERE ${where.join(' AND ')} ORDER BY rowid DESC`;
    return (this.db.prepare(sql).all({ ...filter, now }) as OAuthModelRow[]).map(toRecord);
  }

  async purgeExpired(now: number): Promise<number> {
    return this.purgeStmt.run({ now }).changes;
  }
}

export class SqliteRevocations implements RevocationStore {
  private readonly addStmt: Database.Statement;
  private readonly purgeStmt: Database.Statement;
  private readonly checks = new Map<number, Database.Statement>();

  constructor(private readonly db: Database.Database) {
    this.addStmt = db.prepare(`INSERT INTO oauth_revocations (kind, value, revoked_at, expires_at) VALUES (@kind, @value, @revokedAt, @expiresAt)
      ON CONFLICT (kind, value) DO UPDATE SET revoked_at = MAX(revoked_at, excluded.revoked_at), expires_at = MAX(expires_at, excluded.expires_at)`);
    this.purgeStmt = db.prepare('DELETE FROM oauth_revocations WHERE expires_at <= ?');
  }

  async add(entry: RevocationEntry, revokedAt: number, expiresAt: number): Promise<void> {
    this.addStmt.run({ ...entry, revokedAt, expiresAt });
  }

  async anyRevoked(entries: readonly RevocationEntry[], issuedAt: number): Promise<boolean> {
    if (entries.length === 0) return false;
    // One primary-key probe per entry, in one statement: this runs on every request that carries a JWT.
    let stmt = this.checks.get(entries.length);
    if (!stmt) {
      const probes = entries.map(() => '(kind = ? AND value = ?)').join(' OR ');
      stmt = this.db.prepare(`SELECT 1 FROM oauth_revocations WHERE revoked_at >= ? AND (${probes}) LIMIT 1`);
      this.checks.set(entries.length, stmt);
    }
    return stmt.get(issuedAt, ...entries.flatMap((e) => [e.kind, e.value])) !== undefined;
  }

  async purgeExpired(now: number): Promise<number> {
    return this.purgeStmt.run(now).changes;
  }
}
