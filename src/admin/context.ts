import type { WardenConfig } from '../config/index.js';
import type { Store } from '../store/index.js';
import { adminRecord, auditInstance, sealAuditRecord, type AdminActor, type AdminChange, type AuditRecord } from '../audit/index.js';
import { known, printable } from '../shared/text.js';
import { AdminError } from './errors.js';

/** The scope an API key needs for the admin API. */
export const ADMIN_SCOPE = 'admin';

/** Appends one admin record to the audit trail; rejects when it could not be kept. */
export type AdminRecorder = (record: AuditRecord) => Promise<void>;

/** What every admin service works with. */
export interface AdminContext {
  store: Store;
  config: WardenConfig;
  /** Who performs the changes: the subject of their admin records. */
  actor: AdminActor;
  /** Where records go; default: the store's audit chain (when `audit.store` is on), next to the gateway's records. */
  recorder?: AdminRecorder;
  /** The clock (epoch ms), for tests. */
  now?: () => number;
  /**
   * The audit chain its records join. Default: the configured `audit.instance`, or this process's
   * `hostname:pid` (the gateway's own chain when the admin console runs in it). The CLI names one chain per
   * host, `cli@<hostname>`, rather than a new one for every command it runs.
   */
  instance?: string;
}

/** The store's tamper-evident chain: admin changes join the gateway's records there. */
export function chainRecorder(store: Store, config: WardenConfig): AdminRecorder {
  return async (record) => {
    if (!config.audit.store) return;
    await store.audit.append(record.instance, [record], sealAuditRecord);
  };
}

export function nowOf(ctx: AdminContext): number {
  return (ctx.now ?? Date.now)();
}

/** Writes the record of `change`. */
export async function record(ctx: AdminContext, change: AdminChange): Promise<void> {
  const recorder = ctx.recorder ?? chainRecorder(ctx.store, ctx.config);
  await recorder(adminRecord(change, ctx.actor, ctx.instance ?? auditInstance(ctx.config.audit.instance), new Date(nowOf(ctx))));
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Records a change that takes something away (a revocation, a disabled user): when the record cannot be
 * written the change stands, since undoing it would hand access back, and the failure says so.
 */
export async function recordOrFail(ctx: AdminContext, change: AdminChange, done: string): Promise<void> {
  try {
    await record(ctx, change);
  } catch (err) {
    throw new AdminError('audit_failed', `${done}, but its audit record could not be written: ${messageOf(err)}`, { kind: change.targetKind, id: change.target });
  }
}

/**
 * Records a change that grants something (a key, a user, a client): an unrecorded grant must not stand, so
 * when the record cannot be written `undo` takes it back before the failure is reported.
 */
export async function recordOrUndo(ctx: AdminContext, change: AdminChange, undo: () => Promise<unknown>, undone: string): Promise<void> {
  try {
    await record(ctx, change);
  } catch (err) {
    await undo();
    throw new AdminError('audit_failed', `${undone} because its audit record could not be written: ${messageOf(err)}`, { kind: change.targetKind, id: change.target });
  }
}

/** Refuses the first of `given` that the config does not define in `where` (`authorization.scopes`, `authorization.roles`). */
export function checkDefined(what: 'scope' | 'role', given: readonly string[], config: WardenConfig): void {
  const where = what === 'scope' ? 'authorization.scopes' : 'authorization.roles';
  const defined = Object.keys(what === 'scope' ? config.authorization.scopes : config.authorization.roles);
  // With the console on, `admin` is the scope of API keys for the admin API (it opens no MCP tool).
  if (what === 'scope' && config.admin) defined.push(ADMIN_SCOPE);
  const unknown = given.find((g) => !defined.includes(g));
  if (unknown === undefined) return;
  throw new AdminError('invalid_input', `unknown ${what} '${printable(unknown)}': ${where} does not define it (${known(defined)})`);
}
