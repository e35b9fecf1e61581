import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/index.js';
import { SqliteStore } from '../../src/store/index.js';
import { AdminError, adminServices, type AdminActor, type AdminContext, type AdminServices } from '../../src/admin/index.js';
import type { ChainedAuditRecord } from '../../src/audit/index.js';
import { cliConfigYaml, type CliConfigShape } from './cli-config.js';

/** An administrator as the console would name one: not the OS user, so the tests see the actor reach the record. */
export const ACTOR: AdminActor = { subject: 'ops-alice', tenant: 'ops', credential: { kind: 'oauth', id: 'at-1' }, requestId: 'req-1' };

export const ADMIN_SHAPE: CliConfigShape = { auth: 'auth: { apiKeys: {}, oauth: {} }', roles: { viewer: ['notes:read'], editor: ['notes:read', 'notes:write'] } };

export interface AdminFixture extends AdminServices {
  ctx: AdminContext;
  store: SqliteStore;
  /** The admin records in the store's audit chain, oldest first. */
  records: () => Promise<ChainedAuditRecord[]>;
}

/**
 * Runs `fn` with the admin services over a fresh SQLite store file in a temporary folder, as `ACTOR`;
 * `context` replaces parts of the context (a failing recorder, another actor).
 */
export async function withAdmin<T>(fn: (admin: AdminFixture) => Promise<T>, context: Partial<AdminContext> = {}, shape: CliConfigShape = ADMIN_SHAPE): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-admin-'));
  const db = join(dir, 'w.db');
  const { config } = parseConfigText(cliConfigYaml(shape, db), 'warden.yaml', {});
  const store = new SqliteStore(db);
  try {
    const ctx: AdminContext = { store, config, actor: ACTOR, ...context };
    const records = async () => (await store.audit.query({ event: 'admin' })).map((r) => JSON.parse(r.body) as ChainedAuditRecord);
    return await fn({ ...adminServices(ctx), ctx, store, records });
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A recorder whose every write fails, as a full disk or a broken audit store would. */
export const failingRecorder = async (): Promise<void> => {
  throw new Error('disk full');
};

/** An assert.rejects check: an AdminError with `code` whose message matches. */
export const refused = (code: string, message: RegExp) => (err: unknown): boolean => err instanceof AdminError && err.code === code && message.test(err.message);
