import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { AdminTargetKind, AuditRecord } from './record.js';

/** Names the process that writes records, unless the config names it: several gateways may share a store. */
export function auditInstance(configured?: string): string {
  return configured ?? `${hostname()}:${process.pid}`;
}

/**
 * Who performs an admin change: the OS user who ran the CLI (it has no other identity, and whoever can run it
 * can write the store anyway), or later an administrator signed in to the console or the admin API.
 */
export interface AdminActor {
  subject: string;
  tenant?: string;
  /** How the actor was authenticated: `{ kind: 'none', id: 'cli' }` for the CLI, a token id for the admin API. */
  credential: AuditRecord['credential'];
  /** The request the change belongs to (the admin API's request id); without one, a fresh id is made. */
  requestId?: string;
}

/** One change, as its admin record tells it. */
export interface AdminChange {
  /** e.g. `keys.revoke`. */
  action: string;
  target: string;
  targetKind: AdminTargetKind;
  /** What changed, for a person reading the trail: never a secret. */
  reason: string;
}

/** The record of an administrator's change (a key created, a user disabled, a client removed). */
export function adminRecord(change: AdminChange, actor: AdminActor, instance: string, now: Date = new Date()): AuditRecord {
  const record: AuditRecord = {
    ts: now.toISOString(),
    instance,
    event: 'admin',
    requestId: actor.requestId ?? `${actor.credential.id}-${process.pid}-${now.getTime()}`,
    subject: actor.subject,
    credential: { ...actor.credential },
    method: change.action,
    target: change.target,
    targetKind: change.targetKind,
    decision: 'allow',
    reason: change.reason,
  };
  if (actor.tenant) record.tenant = actor.tenant;
  return record;
}

/** What the embedded authorization server did (a sign-in, a token issued, a refresh token replayed). */
export interface OAuthEvent {
  /** e.g. oauth.sign_in, oauth.token, oauth.refresh_reuse, oauth.revoke, oauth.register. */
  method: string;
  decision: 'allow' | 'deny';
  subject: string;
  tenant?: string;
  clientId?: string;
  /** Who acts for `subject` (token exchange `act`). */
  actor?: string;
  /** A grant id or token id, never a token. */
  credentialId?: string;
  target?: string;
  targetKind?: AdminTargetKind;
  reason: string;
  ip?: string;
  userAgent?: string;
  /** RFC 8705: the thumbprint of the client certificate the tokens were bound to, or that was presented. */
  certificate?: string;
}

export function oauthRecord(e: OAuthEvent, instance: string): AuditRecord {
  return {
    ts: new Date().toISOString(),
    instance,
    event: 'oauth',
    requestId: randomUUID(),
    subject: e.subject,
    ...(e.tenant ? { tenant: e.tenant } : {}),
    ...(e.clientId ? { clientId: e.clientId } : {}),
    credential: { kind: 'oauth', id: e.credentialId ?? '-' },
    ...(e.actor ? { actor: e.actor } : {}),
    method: e.method,
    ...(e.target ? { target: e.target } : {}),
    ...(e.targetKind ? { targetKind: e.targetKind } : {}),
    decision: e.decision,
    reason: e.reason,
    ...(e.ip ? { ip: e.ip } : {}),
    ...(e.userAgent ? { userAgent: e.userAgent } : {}),
    ...(e.certificate ? { certificate: e.certificate } : {}),
  };
}
