import type Database from 'better-sqlite3';
import { StoreError, type UserRecord, type UserStore } from './types.js';

interface UserRow {
  username: string;
  password_hash: string;
  roles: string;
  tenant: string | null;
  display_name: string | null;
  created_at: number;
  disabled_at: number | null;
  password_changed_at: number;
  failed_logins: number;
  locked_until: number | null;
}

function toUser(r: UserRow): UserRecord {
  return {
    username: r.username,
    passwordHash: r.password_hash,
    roles: JSON.parse(r.roles) as string[],
    tenant: r.tenant,
    displayName: r.display_name,
    createdAt: r.created_at,
    disabledAt: r.disabled_at,
    passwordChangedAt: r.password_changed_at,
    failedLogins: r.failed_logins,
    lockedUntil: r.locked_until,
  };
}

const COLUMN_OF: Record<string, string> = {
  passwordHash: 'password_hash', roles: 'roles', tenant: 'tenant', displayName: 'display_name', disabledAt: 'disabled_at',
  passwordChangedAt: 'password_changed_at', failedLogins: 'failed_logins', lockedUntil: 'locked_until',
};

export class SqliteUsers implements UserStore {
  private readonly insertStmt: Database.Statement;
  private readonly getStmt: Database.Statement;
  private readonly failTx: Database.Transaction<(username: string, at: number, lockAfter: number, lockFor: number) => UserRecord | undefined>;

  constructor(private readonly db: Database.Database) {
    this.insertStmt = db.prepare(`INSERT INTO users (username, password_hash, roles, tenant, display_name, created_at, disabled_at, password_changed_at, failed_logins, locked_until)
      VALUES (@username, @passwordHash, @roles, @tenant, @displayName, @createdAt, @disabledAt, @passwordChangedAt, @failedLogins, @lockedUntil)`);
    this.getStmt = db.prepare('SELECT * FROM users WHERE username = ?');
    const count = db.prepare('UPDATE users SET failed_logins = failed_logins + 1 WHERE username = ?');
    const lock = db.prepare('UPDATE users SET failed_logins = 0, locked_until = ? WHERE username = ? AND failed_logins >= ?');
    this.failTx = db.transaction((username: string, at: number, lockAfter: number, lockFor: number) => {
      if (count.run(username).changes === 0) return undefined;
      lock.run(at + lockFor, username, lockAfter);
      return toUser(this.getStmt.get(username) as UserRow);
    });
  }

  async insert(user: UserRecord): Promise<void> {
    try {
      this.insertStmt.run({ ...user, roles: JSON.stringify(user.roles) });
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new StoreError('conflict', `a user named ${user.username} exists already`);
      throw err;
    }
  }

  async get(username: string): Promise<UserRecord | undefined> {
    const row = this.getStmt.get(username) as UserRow | undefined;
    return row && toUser(row);
  }

  async list(): Promise<UserRecord[]> {
    return (this.db.prepare('SELECT * FROM users ORDER BY username').all() as UserRow[]).map(toUser);
  }

  async update(username: string, patch: Partial<Omit<UserRecord, 'username' | 'createdAt'>>): Promise<boolean> {
    const fields = Object.keys(patch).filter((k) => COLUMN_OF[k] !== undefined && patch[k as keyof typeof patch] !== undefined);
    if (fields.length === 0) return (await this.get(username)) !== undefined;
    const values: Record<string, unknown> = { username };
    for (const f of fields) values[f] = f === 'roles' ? JSON.stringify(patch.roles) : patch[f as keyof typeof patch];
    const sql = `UPDATE users SET ${fields.map((f) => `${COLUMN_OF[f]} = @${f}`).join(', ')} WHERE username = @username`;
    return this.db.prepare(sql).run(values).changes > 0;
  }

  async recordFailedLogin(username: string, at: number, lockAfter: number, lockFor: number): Promise<UserRecord | undefined> {
    return this.failTx.immediate(username, at, lockAfter, lockFor);
  }
}
