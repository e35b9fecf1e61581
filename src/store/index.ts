export * from './types.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite.js';
export { SQLITE_MIGRATIONS, type Migration } from './sqlite-migrations.js';

import type { WardenConfig } from '../config/index.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './types.js';

/** The store the config names (SQLite for now; PostgreSQL later behind the same interface). */
export function openStore(config: Pick<WardenConfig, 'store'>): Store {
  return new SqliteStore(config.store.sqlite, { synchronous: config.store.synchronous === 'full' ? 'FULL' : 'NORMAL' });
}
