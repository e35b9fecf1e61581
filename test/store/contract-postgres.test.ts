import { PostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/index.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { storeContract } from './contract.js';

const schemas = new WeakMap<Store, TestSchema>();

storeContract('PostgreSQL', {
  open: async () => {
    const schema = await createTestSchema();
    const store = await PostgresStore.open({ url: schema.url, poolSize: 4 });
    schemas.set(store, schema);
    return store;
  },
  second: async (first) => {
    const schema = schemas.get(first)!;
    const store = await PostgresStore.open({ url: schema.url, poolSize: 4 });
    schemas.set(store, schema);
    return store;
  },
  cleanup: async (store: Store) => {
    await store.close();
    await schemas.get(store)?.drop();
  },
});
