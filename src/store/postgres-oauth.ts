import type { PgDatabase } from './postgres-pool.js';
import { OAUTH_MODEL_COLUMNS, toOAuthModel, type OAuthModelRow } from './rows.js';
import { PgReadCache } from './postgres-read-cache.js';
import type {
  ChangeFeed, OAuthModelFilter, OAuthModelRecord, OAuthModelStore, RevocationEntry, RevocationStore,
} from './types.js';

const COLUMNS = OAUTH_MODEL_COLUMNS;
const LIVE = '(expires_at IS NULL OR expires_at > $3)';

export class PostgresOAuthModels implements OAuthModelStore {
  constructor(private readonly db: PgDatabase) {}

  async upsert(r: OAuthModelRecord): Promise<void> {
    // Keeps consumed_at, as SQLite does: the provider re-saves consumed tokens without it. The row keeps its
    // seq too, so list order is the order of first save.
    await this.db.query(
      `INSERT INTO oauth_models (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
          user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at,
          consumed_at = COALESCE(oauth_models.consumed_at, excluded.consumed_at)`,
      [r.model, r.id, r.payload, r.grantId, r.userCode, r.uid, r.expiresAt, r.consumedAt],
    );
  }

  private async one(column: 'id' | 'uid' | 'user_code', model: string, value: string, now: number): Promise<OAuthModelRecord | undefined> {
    const { rows } = await this.db.query<OAuthModelRow>({
      name: `warden_oauth_find_${column}`,
      text: `SELECT ${COLUMNS} FROM oauth_models WHERE model = $1 AND ${column} = $2 AND ${LIVE} ORDER BY seq DESC LIMIT 1`,
      values: [model, value, now],
    });
    return rows[0] && toOAuthModel(rows[0]);
  }

  find(model: string, id: string, now: number): Promise<OAuthModelRecord | undefined> {
    return this.one('id', model, id, now);
  }

  findByUid(model: string, uid: string, now: number): Promise<OAuthModelRecord | undefined> {
    return this.one('uid', model, uid, now);
  }

  findByUserCode(model: string, userCode: string, now: number): Promise<OAuthModelRecord | undefined> {
    return this.one('user_code', model, userCode, now);
  }

  async consume(model: string, id: string, at: number): Promise<void> {
    await this.db.query('UPDATE oauth_models SET consumed_at = COALESCE(consumed_at, $3) WHERE model = $1 AND id = $2', [model, id, at]);
  }

  async destroy(model: string, id: string): Promise<void> {
    await this.db.query('DELETE FROM oauth_models WHERE model = $1 AND id = $2', [model, id]);
  }

  async revokeByGrantId(model: string, grantId: string): Promise<number> {
    return (await this.db.query('DELETE FROM oauth_models WHERE model = $1 AND grant_id = $2', [model, grantId])).rowCount ?? 0;
  }

  async list(filter: OAuthModelFilter, now: number): Promise<OAuthModelRecord[]> {
    const values: unknown[] = [filter.model, now];
    const where = ['model = $1', '(expires_at IS NULL OR expires_at > $2)'];
    if (filter.accountId !== undefined) where.push(`account_id = $${values.push(filter.accountId)}`);
    if (filter.clientId !== undefined) where.push(`client_id = $${values.push(filter.clientId)}`);
    if (filter.grantId !== undefined) where.push(`grant_id = $${values.push(filter.grantId)}`);
    const { rows } = await this.db.query<OAuthModelRow>(`SELECT ${COLUMNS} FROM oauth_models WHERE ${where.join(' AND ')} ORDER BY seq DESC`, values);
    return rows.map(toOAuthModel);
  }

  async purgeExpired(now: number): Promise<number> {
    return (await this.db.query('DELETE FROM oauth_models WHERE expires_at IS NOT NULL AND expires_at <= $1', [now])).rowCount ?? 0;
  }
}

export class PostgresRevocations implements RevocationStore {
  private readonly cache: PgReadCache<boolean>;

  constructor(private readonly db: PgDatabase, private readonly feed: ChangeFeed) {
    this.cache = new PgReadCache(feed);
  }

  async add(entry: RevocationEntry, revokedAt: number, expiresAt: number): Promise<void> {
    try {
      await this.db.query(
        `INSERT INTO oauth_revocations (kind, value, revoked_at, expires_at) VALUES ($1, $2, $3, $4)
          ON CONFLICT (kind, value) DO UPDATE SET revoked_at = GREATEST(oauth_revocations.revoked_at, excluded.revoked_at),
            expires_at = GREATEST(oauth_revocations.expires_at, excluded.expires_at)`,
        [entry.kind, entry.value, revokedAt, expiresAt],
      );
    } finally {
      this.feed.changed();
    }
  }

  async anyRevoked(entries: readonly RevocationEntry[], issuedAt: number): Promise<boolean> {
    if (entries.length === 0) return false;
    const key = `${issuedAt}\u0000${entries.map((e) => `${e.kind}\u0000${e.value}`).join('\u0000')}`;
    return this.cache.get(key, async () => {
      // One statement whatever the number of entries (two arrays), so it is prepared once.
      const { rows } = await this.db.query({
        name: 'warden_any_revoked',
        text: `SELECT 1 FROM oauth_revocations r JOIN unnest($2::text[], $3::text[]) AS e(kind, value)
          ON r.kind = e.kind AND r.value = e.value WHERE r.revoked_at >= $1 LIMIT 1`,
        values: [issuedAt, entries.map((e) => e.kind), entries.map((e) => e.value)],
      });
      return rows.length > 0;
    });
  }

  async purgeExpired(now: number): Promise<number> {
    try {
      return (await this.db.query('DELETE FROM oauth_revocations WHERE expires_at <= $1', [now])).rowCount ?? 0;
    } finally {
      this.feed.changed();
    }
  }
}
