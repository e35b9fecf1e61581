import Database from 'better-sqlite3';
import { StoreError, type AuditAnchor, type AuditQuery, type AuditRow, type AuditSeal, type AuditStore } from './types.js';

/**
 * Where an empty chain starts. The same value as audit/chain.ts GENESIS_HASH (a test holds them equal): the
 * store cannot import it from there, since dependencies point from audit/ down to store/.
 */
const GENESIS: AuditAnchor = { seq: 0, hash: '0'.repeat(64) };

export const AUDIT_QUERY_DEFAULT_LIMIT = 1_000;
export const AUDIT_QUERY_MAX_LIMIT = 100_000;

interface Statements {
  newest: Database.Statement<[], AuditAnchor>;
  anchor: Database.Statement<[], AuditAnchor>;
  insert: Database.Statement<[number, string, string, string]>;
  scan: Database.Statement<[number, number], AuditRow>;
  firstKept: Database.Statement<[string], { seq: number }>;
  lastBefore: Database.Statement<[number], AuditAnchor>;
  deleteUpTo: Database.Statement<[number]>;
  setAnchor: Database.Statement<[number, string]>;
}

const ROW_COLUMNS = 'seq, prev_hash AS prevHash, hash, body';

/**
 * The audit chain in the store's SQLite file. Every method reads the chain's head inside its own transaction
 * and nothing is cached between calls: the gateway and the CLI append to the same file from different
 * processes, and each must seal after whatever the other committed last.
 */
export class SqliteAuditStore implements AuditStore {
  private statements: Statements | undefined;
  private readonly appendTx: Database.Transaction<(records: readonly unknown[], seal: AuditSeal) => AuditRow[]>;
  private readonly pruneTx: Database.Transaction<(before: string) => number>;

  constructor(private readonly db: Database.Database) {
    this.appendTx = db.transaction((records: readonly unknown[], seal: AuditSeal) => {
      const s = this.stmts();
      let head = this.headIn(s);
      const rows: AuditRow[] = [];
      for (const record of records) {
        const seq = head.seq + 1;
        const { body, hash } = seal(seq, head.hash, record);
        s.insert.run(seq, body, head.hash, hash);
        rows.push({ seq, prevHash: head.hash, hash, body });
        head = { seq, hash };
      }
      return rows;
    });
    this.pruneTx = db.transaction((before: string) => {
      const s = this.stmts();
      // Only a prefix of the chain may go, or verify would see a hole. Records are stamped before they are
      // sealed, and several gateways' clocks differ, so ts is not strictly ordered by seq: the prefix ends at
      // the first record that is still within retention. A skewed clock thus keeps records longer, never
      // deletes newer ones (a clock in 1970 would otherwise wipe the log).
      const firstKept = s.firstKept.get(before)?.seq;
      const last = firstKept === undefined ? s.newest.get() : s.lastBefore.get(firstKept);
      if (!last) return 0;
      const deleted = s.deleteUpTo.run(last.seq).changes;
      s.setAnchor.run(last.seq, last.hash);
      return deleted;
    });
  }

  async append(records: readonly unknown[], seal: AuditSeal): Promise<AuditRow[]> {
    if (records.length === 0) return [];
    // IMMEDIATE takes the write lock before the head is read, so two processes cannot seal after the same row.
    return this.guard(() => this.appendTx.immediate(records, seal));
  }

  async query(query: AuditQuery): Promise<AuditRow[]> {
    return this.guard(() => {
      const where: string[] = [];
      const params: Record<string, string | number> = {};
      // ts is ISO-8601 UTC text (Date.toISOString), whose text order is its time order.
      if (query.since !== undefined) {
        where.push('ts >= @since');
        params.since = isoTime(query.since, 'since');
      }
      if (query.until !== undefined) {
        where.push('ts < @until');
        params.until = isoTime(query.until, 'until');
      }
      for (const column of ['subject', 'target', 'decision', 'event'] as const) {
        const value = query[column];
        if (value === undefined) continue;
        where.push(`${column} = @${column}`);
        params[column] = value;
      }
      if (query.afterSeq !== undefined) {
        where.push('seq > @afterSeq');
        params.afterSeq = query.afterSeq;
      }
      if (query.beforeSeq !== undefined) {
        where.push('seq < @beforeSeq');
        params.beforeSeq = query.beforeSeq;
      }
      // Not a stored column (no migration for a console filter): read from the record's text.
      if (query.upstream !== undefined) {
        where.push("json_extract(body, '$.upstream') = @upstream");
        params.upstream = query.upstream;
      }
      params.limit = clampLimit(query.limit);
      const order = query.order === 'desc' ? 'DESC' : 'ASC';
      const sql = `SELECT ${ROW_COLUMNS} FROM audit_records${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq ${order} LIMIT @limit`;
      return this.db.prepare<Record<string, string | number>, AuditRow>(sql).all(params);
    });
  }

  async scan(afterSeq: number, limit: number): Promise<AuditRow[]> {
    return this.guard(() => this.stmts().scan.all(afterSeq, Math.max(0, Math.trunc(limit))));
  }

  async anchor(): Promise<AuditAnchor> {
    return this.guard(() => this.anchorIn(this.stmts()));
  }

  async head(): Promise<AuditAnchor> {
    return this.guard(() => this.headIn(this.stmts()));
  }

  async prune(before: number): Promise<number> {
    const iso = isoTime(before, 'before');
    return this.guard(() => this.pruneTx.immediate(iso));
  }

  private headIn(s: Statements): AuditAnchor {
    return s.newest.get() ?? this.anchorIn(s);
  }

  private anchorIn(s: Statements): AuditAnchor {
    return s.anchor.get() ?? GENESIS;
  }

  /**
   * Prepared on first use, not in the constructor: a store opened with an older schema (tests of upgrades,
   * `SQLITE_MIGRATIONS.slice(0, 1)`) has no audit tables and must still open.
   */
  private stmts(): Statements {
    if (this.statements) return this.statements;
    const db = this.db;
    try {
      this.statements = {
        newest: db.prepare('SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1'),
        anchor: db.prepare('SELECT seq, hash FROM audit_anchor WHERE id = 1'),
        insert: db.prepare('INSERT INTO audit_records (seq, body, prev_hash, hash) VALUES (?, ?, ?, ?)'),
        scan: db.prepare(`SELECT ${ROW_COLUMNS} FROM audit_records WHERE seq > ? ORDER BY seq LIMIT ?`),
        firstKept: db.prepare('SELECT seq FROM audit_records WHERE ts >= ? ORDER BY seq LIMIT 1'),
        lastBefore: db.prepare('SELECT seq, hash FROM audit_records WHERE seq < ? ORDER BY seq DESC LIMIT 1'),
        deleteUpTo: db.prepare('DELETE FROM audit_records WHERE seq <= ?'),
        setAnchor: db.prepare('INSERT INTO audit_anchor (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash'),
      };
    } catch (err) {
      if (/no such table/.test((err as Error).message)) {
        throw new StoreError('unavailable', 'the store has no audit tables (schema older than version 2); reopen it with the current warden to migrate');
      }
      throw err;
    }
    return this.statements;
  }

  /** Driver failures become StoreErrors; the seal's own errors pass through as they are. */
  private guard<T>(fn: () => T): T {
    if (!this.db.open) throw new StoreError('unavailable', 'the store is closed');
    try {
      return fn();
    } catch (err) {
      if (err instanceof Database.SqliteError) {
        if (err.code === 'SQLITE_BUSY') throw new StoreError('unavailable', `the store is locked by another process for too long: ${err.message}`);
        throw new StoreError('unavailable', `audit store failure (${err.code}): ${err.message}`);
      }
      throw err;
    }
  }
}

function isoTime(ms: number, name: string): string {
  const date = new Date(ms);
  if (!Number.isFinite(ms) || Number.isNaN(date.getTime())) throw new RangeError(`${name} must be a time in epoch milliseconds, got ${ms}`);
  return date.toISOString();
}

function clampLimit(limit: number | undefined): number {
  if (limit === undefined || Number.isNaN(limit)) return AUDIT_QUERY_DEFAULT_LIMIT;
  return Math.min(AUDIT_QUERY_MAX_LIMIT, Math.max(0, Math.trunc(limit)));
}
