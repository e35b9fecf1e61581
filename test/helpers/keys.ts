import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withStore } from './store.js';
import { ApiKeys, type NewApiKey } from '../../src/credentials/index.js';
import type { ConfigInput } from '../../src/config/index.js';
import { recordSecret } from './secret-sweep.js';

/** A temp dir with a store file, and the `auth`/`store` part of a config that uses it. */
export function keyedSetup(prefix = 'warden-keys-'): { dir: string; dbPath: string; config: Pick<ConfigInput, 'auth' | 'store'> } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const dbPath = join(dir, 'warden.db');
  return { dir, dbPath, config: { auth: { apiKeys: {} }, store: { sqlite: dbPath } } };
}

/** Creates a key in the store file as `warden keys create` would (through its own connection). */
export async function createKey(dbPath: string, input: NewApiKey): Promise<{ id: string; key: string }> {
  return withStore(dbPath, async (store) => {
    const { key, view } = await new ApiKeys(store.apiKeys).create(input);
    recordSecret('api_key', key);
    return { id: view.id, key };
  });
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
