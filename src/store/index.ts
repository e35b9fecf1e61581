export * from './types.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite.js';
export { SQLITE_MIGRATIONS, type Migration } from './sqlite-migrations.js';
export { LocalChangeFeed } from './change-feed.js';
export { AUDIT_QUERY_DEFAULT_LIMIT, AUDIT_QUERY_MAX_LIMIT } from './audit-query.js';

import type { StoreConfig } from '../config/index.js';
import { SqliteStore } from './sqlite.js';
import type { ChangeFeed, Store } from './types.js';

export interface OpenStoreOptions {
  /**
   * PostgreSQL only: what tells the read caches that another instance changed a key or the revocation list.
   * Default: an in-process counter, with which those caches see only this process's writes (see postgres.ts).
   */
  changeFeed?: ChangeFeed;
}

/**
 * The store the config names: the only way anything opens one (the gateway, every CLI command, doctor).
 * PostgreSQL is loaded only when configured, so that the SQLite default pays nothing for it.
 */
export async function openStore(config: { store: StoreConfig }, options: OpenStoreOptions = {}): Promise<Store> {
  const store = config.store;
  if ('postgres' in store) {
    const { PostgresStore } = await import('./postgres.js');
    return PostgresStore.open({
      url: store.postgres,
      poolSize: store.poolSize,
      statementTimeout: store.statementTimeout,
      ...(options.changeFeed ? { changeFeed: options.changeFeed } : {}),
    });
  }
  return new SqliteStore(store.sqlite, { synchronous: store.synchronous === 'full' ? 'FULL' : 'NORMAL' });
}
