import { SqliteStore } from '../../src/store/index.js';

/** Runs `fn` on a second connection to the store file, as the CLI does while a gateway runs, and closes it. */
export async function withStore<T>(dbPath: string, fn: (store: SqliteStore) => Promise<T>): Promise<T> {
  const store = new SqliteStore(dbPath);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
