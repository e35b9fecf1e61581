import type Database from 'better-sqlite3';
import { toUser, USER_COLUMN_OF, type UserRow } from './rows.js';
import { StoreError, type UserRecord, type UserStore } from './types.js';
import { lazyStatements } from './sqlite-oauth.js';

export class SqliteUsers implements UserStore {
  private readonly s;
  private failTx: Database.Transaction<(username: string, at: number, lockAfter: number, lockFor: number) => UserRecord | undefined> | undefined;

  constructor(private readonly db: Database.Database) {
    this.s = lazyStatements(db, {
      insert: `INSERT INTO users (username, password_hash, roles, tenant, display_name, created_at, disabled_at, password_changed_at, failed_logins, locked_until)
        VALUES (@username, @passwordHash, @roles, @tenant, @displayName, @createdAt, @disabledAt, @passwordChangedAt, @failedLogins, @lockedUntil)`,
      get: 'SELECT * FROM users WHERE username = ?',
      count: 'UPDATE users SET failed_logins = failed_logins + 1 WHERE username = ?',
      lock: 'UPDATE users SET failed_logins = 0, locked_until = ? WHERE username = ? AND failed_logins >= ?',
    });
  }

  async insert(user: UserRecord): Promise<void> {
    try {
      this.s.insert.run({ ...user, roles: JSON.stringify(user.roles) });
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new StoreError('conflict', `a user named ${user.username} exists already`);
      throw err;
    }
  }

  async get(username: string): Promise<UserRecord | undefined> {
    const row = this.s.get.get(username) as UserRow | undefined;
    return row && toUser(row);
  }

  async list(): Promise<UserRecord[]> {
    return (this.db.prepare('SELECT * FROM users ORDER BY username').all() as UserRow[]).map(toUser);
  }

  async update(username: string, patch: Partial<Omit<UserRecord, 'username' | 'createdAt'>>): Promise<boolean> {
    const fields = Object.keys(patch).filter((k) => USER_COLUMN_OF[k] !== undefined && patch[k as keyof typeof patch] !== undefined);
    if (fields.length === 0) return (await this.get(username)) !== undefined;
    const values: Record<string, unknown> = { username };
    for (const f of fields) values[f] = f === 'roles' ? JSON.stringify(patch.roles) : patch[f as keyof typeof patch];
    const sql = `UPDATE users SET ${fields.map((f) => `${USER_COLUMN_OF[f]} = @${f}`).join(', ')} WHERE username = @username`;
    return this.db.prepare(sql).run(values).changes > 0;
  }

  async recordFailedLogin(username: string, at: number, lockAfter: number, lockFor: number): Promise<UserRecord | undefined> {
    this.failTx ??= this.db.transaction((name: string, when: number, after: number, lockForMs: number) => {
      if (this.s.count.run(name).changes === 0) return undefined;
      this.s.lock.run(when + lockForMs, name, after);
      return toUser(this.s.get.get(name) as UserRow);
    });
    return this.failTx.immediate(username, at, lockAfter, lockFor);
  }
}
