import { after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore, type Store } from '../../src/store/index.js';
import { storeContract } from './contract.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-contract-'));
let n = 0;
after(() => rmSync(dir, { recursive: true, force: true }));

storeContract('SQLite', {
  open: async () => new SqliteStore(join(dir, `t${++n}`, 'warden.db')),
  second: async (first) => new SqliteStore(first.location),
  cleanup: async (store: Store) => store.close(),
});
