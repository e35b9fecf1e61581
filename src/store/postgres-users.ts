import type { PgDatabase } from './postgres-pool.js';
import { toUser, USER_COLUMN_OF, type UserRow } from './rows.js';
import { conflictAs } from './postgres.js';
import type { UserRecord, UserStore } from './types.js';

export class PostgresUsers implements UserStore {
  constructor(private readonly db: PgDatabase) {}

  async insert(u: UserRecord): Promise<void> {
    try {
      await this.db.query(
        `INSERT INTO users (username, password_hash, roles, tenant, display_name, created_at, disabled_at, password_changed_at, failed_logins, locked_until)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [u.username, u.passwordHash, JSON.stringify(u.roles), u.tenant, u.displayName, u.createdAt, u.disabledAt, u.passwordChangedAt, u.failedLogins, u.lockedUntil],
      );
    } catch (err) {
      throw conflictAs(err, `a user named ${u.username} exists already`);
    }
  }

  async get(username: string): Promise<UserRecord | undefined> {
    const { rows } = await this.db.query<UserRow>({ name: 'warden_user_get', text: 'SELECT * FROM users WHERE username = $1', values: [username] });
    return rows[0] && toUser(rows[0]);
  }

  async list(): Promise<UserRecord[]> {
    // COLLATE "C": the byte order SQLite uses, whatever the database's locale.
    return (await this.db.query<UserRow>('SELECT * FROM users ORDER BY username COLLATE "C"')).rows.map(toUser);
  }

  async update(username: string, patch: Partial<Omit<UserRecord, 'username' | 'createdAt'>>): Promise<boolean> {
    const fields = Object.keys(patch).filter((k) => USER_COLUMN_OF[k] !== undefined && patch[k as keyof typeof patch] !== undefined);
    if (fields.length === 0) return (await this.get(username)) !== undefined;
    const values: unknown[] = [username];
    const sets = fields.map((f) => `${USER_COLUMN_OF[f]} = $${values.push(f === 'roles' ? JSON.stringify(patch.roles) : patch[f as keyof typeof patch])}`);
    return ((await this.db.query(`UPDATE users SET ${sets.join(', ')} WHERE username = $1`, values)).rowCount ?? 0) > 0;
  }

  async recordFailedLogin(username: string, at: number, lockAfter: number, lockFor: number): Promise<UserRecord | undefined> {
    // One statement: the row lock of the UPDATE serializes concurrent failures across instances.
    const { rows } = await this.db.query<UserRow>(
      `UPDATE users SET
          failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END,
          locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END
        WHERE username = $1 RETURNING *`,
      [username, lockAfter, at + lockFor],
    );
    return rows[0] && toUser(rows[0]);
  }
}
