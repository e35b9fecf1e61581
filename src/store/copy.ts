import type { PostgresStoreConfig } from '../config/index.js';
import { CopySource, type SourceChain } from './copy-source.js';
import { COPIED_TABLES, describeCounts, type CopiedTable, type CopyCounts } from './copy-tables.js';
import { lockInSchema, PgDatabase, type PgClient } from './postgres-pool.js';
import { checkSchema, migrationStatus } from './postgres-migrations.js';
import { appendInTransaction, lockChain } from './postgres-audit.js';
import { StoreError, type AuditSeal } from './types.js';

export { COPIED_TABLES, describeCounts, type CopiedKind, type CopiedTable, type CopyCounts } from './copy-tables.js';

/** Rows per INSERT: one statement per batch keeps round trips few while memory stays small. */
const BATCH_SIZE = 1_000;

export interface CopyOptions {
  /** The SQLite store file. */
  from: string;
  /** The PostgreSQL store to fill (the config's `store`). */
  to: PostgresStoreConfig;
  /** Check both ends and count, copy nothing. */
  dryRun?: boolean;
  /** After each batch of a table (and once for an empty table): rows of it copied so far, of `total`. */
  onProgress?: (table: CopiedTable, copied: number, total: number) => void;
  /**
   * The copy's own audit record, appended to `instance`'s chain in the copy's transaction: the record and the
   * copy commit together or not at all. `record` is called once every row is in.
   */
  audit?: { instance: string; seal: AuditSeal; record: (result: CopyResult) => unknown };
  batchSize?: number;
}

export interface CopyResult {
  from: string;
  /** The database, without its password. */
  to: string;
  /** Rows per kind: copied, or on a dry run, that would be. */
  copied: CopyCounts;
  /** The OAuth records by model (Client, Grant, RefreshToken, AccessToken, ...). */
  oauthModels: Record<string, number>;
  /** The audit chains copied, each under its own instance name. */
  auditChains: SourceChain[];
  dryRun: boolean;
}

/**
 * Copies every row of a SQLite store into an empty PostgreSQL store, as stored: API keys stay hashed, signing
 * keys are the same (tokens issued before keep verifying), audit rows keep their instance, seq and hashes (the
 * chains verify on PostgreSQL). The target is migrated if empty, as start-up would, and then filled in one
 * transaction that first checks it holds no warden data: a failure anywhere leaves it empty, and it is never
 * merged into. The source is opened read-only.
 */
export async function copyStore(options: CopyOptions): Promise<CopyResult> {
  const source = CopySource.open(options.from);
  try {
    // One connection: everything happens in one transaction. A batch may take longer than a request's statement.
    const db = new PgDatabase({ url: options.to.postgres, poolSize: 1, statementTimeout: Math.max(options.to.statementTimeout, 60_000) });
    const result: CopyResult = {
      from: options.from, to: db.location, copied: source.counts(), oauthModels: source.oauthModels(), auditChains: source.auditChains(), dryRun: options.dryRun === true,
    };
    try {
      if (result.dryRun) {
        await checkTarget(db, false);
        return result;
      }
      await checkTarget(db, true);
      await db.transaction(async (client) => {
        await lockTarget(client, result.auditChains);
        await refuseNonEmpty(client, db.location);
        for (const table of COPIED_TABLES) await copyTable(client, source, table, result.copied[table.kind], options);
        if (options.audit) await appendInTransaction(client, options.audit.instance, [options.audit.record(result)], options.audit.seal);
      });
      return result;
    } finally {
      await db.close();
    }
  } finally {
    source.close();
  }
}

/**
 * The target's schema as start-up checks it: an empty database is migrated (unless `migrate` is false, the
 * dry run, which changes nothing), one at another version is refused with the command that fixes it.
 */
async function checkTarget(db: PgDatabase, migrate: boolean): Promise<void> {
  if (!migrate && (await migrationStatus(db)).current === 0) return;
  await checkSchema(db);
  if (!migrate) await db.transaction((client) => refuseNonEmpty(client, db.location));
}

/**
 * Holds off, until the copy commits, whatever would write what it writes: another copy into the same schema
 * (which then finds the target full), a gateway starting there (which would make signing keys of its own), and
 * appends to the chains being copied.
 */
async function lockTarget(client: PgClient, chains: readonly SourceChain[]): Promise<void> {
  await lockInSchema(client, 'store copy');
  await lockInSchema(client, 'signing keys');
  for (const chain of chains) await lockChain(client, chain.instance);
}

async function refuseNonEmpty(client: PgClient, location: string): Promise<void> {
  const counts = COPIED_TABLES.map((t) => `(SELECT count(*) FROM ${t.table}) AS "${t.kind}"`).join(', ');
  const found = (await client.query<CopyCounts>(`SELECT ${counts}`)).rows[0]!;
  if (COPIED_TABLES.every((t) => Number(found[t.kind]) === 0)) return;
  throw new StoreError('not_empty', `the database ${location} already holds warden data (${describeCounts(found)}); \`warden store copy\` fills an empty store and never merges into one: point store.postgres at a new database or a new schema (e.g. ?options=-c%20search_path%3Dwarden), and do not start a gateway on it before the copy`);
}

async function copyTable(client: PgClient, source: CopySource, table: CopiedTable, total: number, options: CopyOptions): Promise<void> {
  const names = table.columns.map(([name]) => name).join(', ');
  const arrays = table.columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ');
  // WITH ORDINALITY ... ORDER BY: rows go in in the source's order, which OAuth models' seq identity keeps.
  const text = `INSERT INTO ${table.table} (${names}) SELECT ${names} FROM unnest(${arrays}) WITH ORDINALITY AS batch(${names}, ord) ORDER BY ord`;
  let copied = 0;
  for (const rows of source.pages(table, options.batchSize ?? BATCH_SIZE)) {
    await client.query({ name: `warden_copy_${table.table}`, text, values: table.columns.map((_, i) => rows.map((row) => row[i] ?? null)) });
    copied += rows.length;
    options.onProgress?.(table, copied, total);
  }
  if (copied === 0) options.onProgress?.(table, 0, total);
}
