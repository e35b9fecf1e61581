import Database from 'better-sqlite3';
import { clampLimit, equalityFilters, GENESIS_ANCHOR, isoTime } from './audit-query.js';
import { StoreError, type AuditAnchor, type AuditChainInfo, type AuditQuery, type AuditRow, type AuditSeal, type AuditStore } from './types.js';

export { AUDIT_QUERY_DEFAULT_LIMIT, AUDIT_QUERY_MAX_LIMIT } from './audit-query.js';

interface Statements {
  newest: Database.Statement<[string], AuditAnchor>;
  anchor: Database.Statement<[string], AuditAnchor>;
  insert: Database.Statement<[string, number, string, string, string]>;
  scan: Database.Statement<[string, number, number], AuditRow>;
  chains: Database.Statement<[], { instance: string; head_seq: number | null; head_hash: string | null; anchor_seq: number | null; anchor_hash: string | null }>;
  instances: Database.Statement<[], { instance: string }>;
  firstKept: Database.Statement<[string, string], { seq: number }>;
  lastBefore: Database.Statement<[string, number], AuditAnchor>;
  deleteUpTo: Database.Statement<[string, number]>;
  setAnchor: Database.Statement<[string, number, string]>;
}

const ROW_COLUMNS = 'instance, seq, prev_hash AS prevHash, hash, body';

/**
 * The audit chains in the store's SQLite file, one per instance. Every method reads a chain's head inside
 * its own transaction and nothing is cached between calls: the gateway and the CLI append to the same file
 * from different processes, and each must seal after whatever was committed last to its chain. SQLite has one
 * writer at a time anyway, so chains of different instances share the file's write lock, not a chain lock.
 */
export class SqliteAuditStore implements AuditStore {
  private statements: Statements | undefined;
  private readonly appendTx: Database.Transaction<(instance: string, records: readonly unknown[], seal: AuditSeal) => AuditRow[]>;
  private readonly pruneTx: Database.Transaction<(before: string) => number>;

  constructor(private readonly db: Database.Database) {
    this.appendTx = db.transaction((instance: string, records: readonly unknown[], seal: AuditSeal) => {
      const s = this.stmts();
      let head = this.headIn(s, instance);
      const rows: AuditRow[] = [];
      for (const record of records) {
        const seq = head.seq + 1;
        const { body, hash } = seal(seq, head.hash, record);
        s.insert.run(instance, seq, body, head.hash, hash);
        rows.push({ instance, seq, prevHash: head.hash, hash, body });
        head = { seq, hash };
      }
      return rows;
    });
    this.pruneTx = db.transaction((before: string) => {
      const s = this.stmts();
      let deleted = 0;
      for (const { instance } of s.instances.all()) {
        // Only a prefix of a chain may go, or verify would see a hole. Records are stamped before they are
        // sealed, and clocks differ, so ts is not strictly ordered by seq: the prefix ends at the first
        // record that is still within retention. A skewed clock thus keeps records longer, never deletes
        // newer ones (a clock in 1970 would otherwise wipe the log).
        const firstKept = s.firstKept.get(instance, before)?.seq;
        const last = firstKept === undefined ? s.newest.get(instance) : s.lastBefore.get(instance, firstKept);
        if (!last) continue;
        deleted += s.deleteUpTo.run(instance, last.seq).changes;
        s.setAnchor.run(instance, last.seq, last.hash);
      }
      return deleted;
    });
  }

  async append(instance: string, records: readonly unknown[], seal: AuditSeal): Promise<AuditRow[]> {
    if (records.length === 0) return [];
    // IMMEDIATE takes the write lock before the head is read, so two processes cannot seal after the same row.
    return this.guard(() => this.appendTx.immediate(instance, records, seal));
  }

  async query(query: AuditQuery): Promise<AuditRow[]> {
    return this.guard(() => {
      const where: string[] = [];
      const params: Array<string | number> = [];
      // ts is ISO-8601 UTC text (Date.toISOString), whose text order is its time order.
      if (query.since !== undefined) {
        where.push('ts >= ?');
        params.push(isoTime(query.since, 'since'));
      }
      if (query.until !== undefined) {
        where.push('ts < ?');
        params.push(isoTime(query.until, 'until'));
      }
      for (const [column, value] of equalityFilters(query)) {
        where.push(`${column} = ?`);
        params.push(value);
      }
      if (query.after) {
        where.push('(ts, instance, seq) > (?, ?, ?)');
        params.push(query.after.ts, query.after.instance, query.after.seq);
      }
      if (query.before) {
        where.push('(ts, instance, seq) < (?, ?, ?)');
        params.push(query.before.ts, query.before.instance, query.before.seq);
      }
      params.push(clampLimit(query.limit));
      const order = query.order === 'desc' ? 'DESC' : 'ASC';
      const sql = `SELECT ${ROW_COLUMNS} FROM audit_records${where.length ? ` WHERE ${where.join(' AND ')}` : ''}
        ORDER BY ts ${order}, instance ${order}, seq ${order} LIMIT ?`;
      return this.db.prepare<Array<string | number>, AuditRow>(sql).all(...params);
    });
  }

  async scan(instance: string, afterSeq: number, limit: number): Promise<AuditRow[]> {
    return this.guard(() => this.stmts().scan.all(instance, afterSeq, Math.max(0, Math.trunc(limit))));
  }

  async chains(): Promise<AuditChainInfo[]> {
    return this.guard(() => this.stmts().chains.all().map((r) => {
      const anchor = r.anchor_seq === null ? { ...GENESIS_ANCHOR } : { seq: r.anchor_seq, hash: r.anchor_hash! };
      return { instance: r.instance, anchor, head: r.head_seq === null ? anchor : { seq: r.head_seq, hash: r.head_hash! } };
    }));
  }

  async anchor(instance: string): Promise<AuditAnchor> {
    return this.guard(() => this.anchorIn(this.stmts(), instance));
  }

  async head(instance: string): Promise<AuditAnchor> {
    return this.guard(() => this.headIn(this.stmts(), instance));
  }

  async prune(before: number): Promise<number> {
    const iso = isoTime(before, 'before');
    return this.guard(() => this.pruneTx.immediate(iso));
  }

  private headIn(s: Statements, instance: string): AuditAnchor {
    return s.newest.get(instance) ?? this.anchorIn(s, instance);
  }

  private anchorIn(s: Statements, instance: string): AuditAnchor {
    return s.anchor.get(instance) ?? { ...GENESIS_ANCHOR };
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
        newest: db.prepare('SELECT seq, hash FROM audit_records WHERE instance = ? ORDER BY seq DESC LIMIT 1'),
        anchor: db.prepare('SELECT seq, hash FROM audit_anchors WHERE instance = ?'),
        insert: db.prepare('INSERT INTO audit_records (instance, seq, body, prev_hash, hash) VALUES (?, ?, ?, ?, ?)'),
        scan: db.prepare(`SELECT ${ROW_COLUMNS} FROM audit_records WHERE instance = ? AND seq > ? ORDER BY seq LIMIT ?`),
        chains: db.prepare(`SELECT i.instance,
            (SELECT seq FROM audit_records r WHERE r.instance = i.instance ORDER BY seq DESC LIMIT 1) AS head_seq,
            (SELECT hash FROM audit_records r WHERE r.instance = i.instance ORDER BY seq DESC LIMIT 1) AS head_hash,
            a.seq AS anchor_seq, a.hash AS anchor_hash
          FROM (SELECT DISTINCT instance FROM audit_records UNION SELECT instance FROM audit_anchors) i
          LEFT JOIN audit_anchors a ON a.instance = i.instance
          ORDER BY i.instance`),
        instances: db.prepare('SELECT DISTINCT instance FROM audit_records ORDER BY instance'),
        firstKept: db.prepare('SELECT seq FROM audit_records WHERE instance = ? AND ts >= ? ORDER BY seq LIMIT 1'),
        lastBefore: db.prepare('SELECT seq, hash FROM audit_records WHERE instance = ? AND seq < ? ORDER BY seq DESC LIMIT 1'),
        deleteUpTo: db.prepare('DELETE FROM audit_records WHERE instance = ? AND seq <= ?'),
        setAnchor: db.prepare('INSERT INTO audit_anchors (instance, seq, hash) VALUES (?, ?, ?) ON CONFLICT (instance) DO UPDATE SET seq = excluded.seq, hash = excluded.hash'),
      };
    } catch (err) {
      if (/no such (table|column)/.test((err as Error).message)) {
        throw new StoreError('unavailable', 'the store has no per-instance audit tables (schema older than version 4); reopen it with the current warden to migrate');
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
