import Database from 'better-sqlite3';
import { existsSync, statSync } from 'node:fs';
import { COPIED_TABLES, zeroCounts, type CopiedTable, type CopyCounts } from './copy-tables.js';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.js';
import { StoreError } from './types.js';

/** One chain of the source's audit trail, as the copy reports it. */
export interface SourceChain {
  instance: string;
  records: number;
}

/**
 * A SQLite store opened for `warden store copy`: read-only (nothing of the file changes, not even a
 * migration), and read in one transaction, so that every table is read at the same instant even if something
 * still writes to the file.
 */
export class CopySource {
  private constructor(private readonly db: Database.Database, readonly path: string) {}

  /** Opens `path` if it is a warden SQLite store at this warden's schema version; refuses with the fix otherwise. */
  static open(path: string): CopySource {
    if (!existsSync(path)) throw notAStore(path, 'there is no such file');
    if (!statSync(path).isFile()) throw notAStore(path, 'it is not a file');
    let db: Database.Database;
    try {
      db = new Database(path, { readonly: true, fileMustExist: true, timeout: 5_000 });
    } catch (err) {
      throw new StoreError('unavailable', `cannot open ${path} to read it: ${(err as Error).message}`);
    }
    try {
      checkSchemaVersion(db, path);
      // A snapshot from here until close(): SQLite's reads in WAL mode see what was committed when it began.
      db.exec('BEGIN');
      db.prepare('SELECT 1 FROM schema_migrations LIMIT 1').get();
    } catch (err) {
      db.close();
      throw err;
    }
    return new CopySource(db, path);
  }

  /** Rows per table. */
  counts(): CopyCounts {
    const counts = zeroCounts();
    for (const t of COPIED_TABLES) counts[t.kind] = (this.db.prepare(`SELECT COUNT(*) AS n FROM ${t.table}`).get() as { n: number }).n;
    return counts;
  }

  /** OAuth models by kind (Client, Grant, RefreshToken, ...), for the report. */
  oauthModels(): Record<string, number> {
    const rows = this.db.prepare('SELECT model, COUNT(*) AS n FROM oauth_models GROUP BY model ORDER BY model').all() as Array<{ model: string; n: number }>;
    return Object.fromEntries(rows.map((r) => [r.model, r.n]));
  }

  auditChains(): SourceChain[] {
    return this.db.prepare(`SELECT instance, COUNT(*) AS records FROM audit_records GROUP BY instance ORDER BY instance`).all() as SourceChain[];
  }

  /**
   * The table's rows in rowid order, `pageSize` at a time, each as its columns' values in COPIED_TABLES order.
   * Paged by rowid, so memory stays bounded whatever the size of the audit trail.
   */
  *pages(table: CopiedTable, pageSize: number): Generator<unknown[][]> {
    const columns = table.columns.map(([name]) => name).join(', ');
    const page = this.db.prepare(`SELECT rowid, ${columns} FROM ${table.table} WHERE rowid > ? ORDER BY rowid LIMIT ?`).raw(true);
    let after = Number.MIN_SAFE_INTEGER;
    for (;;) {
      const rows = page.all(after, pageSize) as unknown[][];
      if (rows.length === 0) return;
      after = rows.at(-1)![0] as number;
      yield rows.map((r) => r.slice(1));
      if (rows.length < pageSize) return;
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function notAStore(path: string, why: string): StoreError {
  return new StoreError('not_a_store', `${path} is not a warden SQLite store: ${why}; name the file that store.sqlite names in the config of the gateway you move from`);
}

/** The source must be at exactly this warden's version: the copy moves the columns this version knows. */
function checkSchemaVersion(db: Database.Database, path: string): void {
  let version: number;
  try {
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
    if (table === undefined) throw notAStore(path, 'it has no schema_migrations table');
    version = (db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations').get() as { v: number }).v;
  } catch (err) {
    if (err instanceof StoreError) throw err;
    // SQLITE_NOTADB: a text file, or anything else SQLite cannot read.
    throw notAStore(path, (err as Error).message);
  }
  const newest = SQLITE_MIGRATIONS.at(-1)!.version;
  if (version > newest) {
    throw new StoreError('schema_too_new', `${path} is at schema version ${version}, newer than this warden knows (${newest}); run \`warden store copy\` of the warden version that last opened it`);
  }
  if (version < newest) {
    throw new StoreError('schema_too_old', `${path} is at schema version ${version}, older than this warden's (${newest}); open it once with this version (run the gateway on it, or any command such as \`warden keys list\` with a config whose store.sqlite names it; it migrates itself), then copy`);
  }
  const missing = COPIED_TABLES.find((t) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t.table) === undefined);
  if (missing) throw notAStore(path, `it has no ${missing.table} table`);
}
