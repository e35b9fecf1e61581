import type { StoreConfig } from '../config/index.js';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.js';

/** What `warden migrate` did, or (dry run) would do. */
export interface MigrateResult {
  store: 'sqlite' | 'postgres';
  /** The file, or the database without its password. */
  location: string;
  /** The schema version before. */
  from: number;
  /** The newest version this warden knows. */
  newest: number;
  /** The migrations run (dry run: that would run). */
  migrations: Array<{ version: number; name: string }>;
  dryRun: boolean;
  /** For SQLite: why there is nothing to do here. */
  note?: string;
}

/**
 * Brings the store's schema to this warden's version. PostgreSQL: the pending migrations, in one transaction
 * under the migration lock. SQLite migrates when it is opened (one file, one host: nothing to coordinate), so
 * this only says so.
 */
export async function migrateStore(store: StoreConfig, options: { dryRun?: boolean } = {}): Promise<MigrateResult> {
  const dryRun = options.dryRun === true;
  if (!('postgres' in store)) {
    const newest = SQLITE_MIGRATIONS.at(-1)!.version;
    return {
      store: 'sqlite', location: store.sqlite, from: newest, newest, migrations: [], dryRun,
      note: 'a SQLite store migrates itself when the gateway or any command opens it; there is nothing to run here',
    };
  }
  const { PgDatabase } = await import('./postgres-pool.js');
  const { POSTGRES_MIGRATIONS, applyMigrations, migrationStatus } = await import('./postgres-migrations.js');
  const db = new PgDatabase({ url: store.postgres, poolSize: 1, statementTimeout: Math.max(store.statementTimeout, 60_000) });
  try {
    const status = await migrationStatus(db, POSTGRES_MIGRATIONS);
    if (dryRun) {
      if (status.current > status.newest) await applyMigrations(db, POSTGRES_MIGRATIONS, 'if-empty'); // throws schema_too_new
      return { store: 'postgres', location: db.location, from: status.current, newest: status.newest, migrations: status.current > status.newest ? [] : status.pending, dryRun };
    }
    const applied = await applyMigrations(db, POSTGRES_MIGRATIONS);
    return { store: 'postgres', location: db.location, from: status.current, newest: status.newest, migrations: applied, dryRun };
  } finally {
    await db.close();
  }
}
