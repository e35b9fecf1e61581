import { existsSync, readFileSync, statSync } from 'node:fs';
import { parse } from 'yaml';
import type { LoadedConfig } from '../config/index.js';
import { openStore, StoreError } from '../store/index.js';
import type { ReviewInput } from './types.js';
import { probeIdps } from './idp-probe.js';

/**
 * Gathers what the rules need beyond the config: the file as written, the modes of the files that hold
 * secrets, the API keys in use, and (when asked: it goes over the network) what each company IdP answers.
 * A store that does not exist yet is not created.
 */
export async function gatherFacts(loaded: LoadedConfig, now = Date.now(), options: { probeIdps?: boolean } = {}): Promise<ReviewInput> {
  const { config } = loaded;
  let raw: Record<string, unknown> = {};
  try {
    const parsed: unknown = parse(readFileSync(loaded.file, 'utf8'));
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) raw = parsed as Record<string, unknown>;
  } catch {
    // The loader has read this file already; a config given as an object (no file) has no inline text to check.
  }
  const db = 'sqlite' in config.store ? config.store.sqlite : undefined;
  const paths = [...(db ? [db, `${db}-wal`, `${db}-shm`] : []), ...(config.audit.file ? [config.audit.file] : [])];
  const files = paths.filter((p) => existsSync(p)).map((p) => ({ path: p, mode: statSync(p).mode }));
  let keys: ReviewInput['keys'];
  if (config.auth !== 'none' && config.auth.apiKeys && (db === undefined || existsSync(db))) {
    try {
      const store = await openStore(config, { announce: false });
      try {
        keys = await store.apiKeys.list({}, now);
      } finally {
        await store.close();
      }
    } catch (err) {
      // A database that cannot be reached (or is not migrated yet) leaves the key rules without facts; the
      // review of the config itself still runs.
      if (!(err instanceof StoreError)) throw err;
    }
  }
  return { config, raw, files, keys, ...(options.probeIdps ? { idps: await probeIdps(config) } : {}) };
}
