export * from './types.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite.js';
export { SQLITE_MIGRATIONS, type Migration } from './sqlite-migrations.js';
export { LocalChangeFeed, type SharedChangeFeed } from './change-feed.js';
export { AUDIT_QUERY_DEFAULT_LIMIT, AUDIT_QUERY_MAX_LIMIT } from './audit-query.js';

import type { RedisConfig, StoreConfig } from '../config/index.js';
import { createLogger } from '../shared/log.js';
import { SqliteStore } from './sqlite.js';
import type { ChangeFeed, Store } from './types.js';

export interface OpenStoreOptions {
  /**
   * PostgreSQL only: what tells the read caches that another instance changed a key or the revocation list,
   * and tells the others of this process's changes (the gateway passes its shared state's feed). Default: a
   * Redis feed of the store's own, so that a CLI command's revocation reaches running gateways at once; when
   * Redis cannot be reached, an in-process counter (the gateways then see the change within their caches'
   * maximum age, PG_READ_CACHE_MAX_AGE_MS).
   */
  changeFeed?: ChangeFeed;
  /** False for a process that changes no key or revocation (doctor, audit reading): no Redis connection is opened. */
  announce?: boolean;
}

/**
 * The store the config names: the only way anything opens one (the gateway, every CLI command, doctor).
 * PostgreSQL is loaded only when configured, so that the SQLite default pays nothing for it.
 */
export async function openStore(config: { store: StoreConfig; redis?: RedisConfig }, options: OpenStoreOptions = {}): Promise<Store> {
  const store = config.store;
  if ('postgres' in store) {
    const { PostgresStore } = await import('./postgres.js');
    const own = options.changeFeed || options.announce === false ? undefined : await announcingFeed(store.redis, config.redis);
    try {
      return await PostgresStore.open({
        url: store.postgres,
        poolSize: store.poolSize,
        statementTimeout: store.statementTimeout,
        ...(options.changeFeed ?? own ? { changeFeed: options.changeFeed ?? own!.feed } : {}),
        ...(own ? { onClose: own.close } : {}),
      });
    } catch (err) {
      await own?.close();
      throw err;
    }
  }
  return new SqliteStore(store.sqlite, { synchronous: store.synchronous === 'full' ? 'FULL' : 'NORMAL' });
}

/**
 * A Redis change feed for a process that has no shared state of its own (a CLI command): its writes are
 * announced to the running gateways, and close() waits until they were. Undefined when Redis does not answer.
 */
async function announcingFeed(url: string, settings: RedisConfig | undefined): Promise<{ feed: ChangeFeed; close(): Promise<void> } | undefined> {
  const { RedisConnection, RedisChangeFeed } = await import('./redis/index.js');
  const log = createLogger({ level: 'silent' });
  let redis: Awaited<ReturnType<typeof RedisConnection.open>> | undefined;
  try {
    redis = await RedisConnection.open({
      url, keyPrefix: settings?.keyPrefix ?? 'warden:', commandTimeout: settings?.commandTimeout ?? 500, connectTimeout: Math.min(settings?.connectTimeout ?? 2_000, 2_000),
    }, log);
    const connection = redis;
    const feed = await RedisChangeFeed.open(connection, { pollInterval: settings?.pollInterval ?? 200, staleAfter: settings?.staleAfter ?? 1_000 });
    return {
      feed,
      close: async () => {
        await feed.flush();
        feed.close();
        await connection.close();
      },
    };
  } catch {
    await redis?.close().catch(() => {});
    return undefined;
  }
}
