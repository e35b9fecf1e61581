import { randomUUID } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import type { AdminTargetKind, AuditRecord } from './record.js';

/** Names the process that writes records, unless the config names it: several gateways may share a store. */
export function auditInstance(configured?: string): string {
  return configured ?? `${hostname()}:${process.pid}`;
}

/**
 * The record of an operator's change (a key created, rotated or revoked). The operator is the OS user who
 * ran the command: the CLI has no other identity, and whoever can run it can write the store anyway.
 */
export function adminRecord(
  action: string, target: string, reason: string, instance: string, now: Date = new Date(), targetKind: AdminTargetKind = 'api_key',
): AuditRecord {
  let operator = 'unknown';
  try {
    operator = userInfo().username;
  } catch {
    // no passwd entry (some containers): the record still says what was done
  }
  return {
    ts: now.toISOString(),
    instance,
    event: 'admin',
    requestId: `cli-${process.pid}-${now.getTime()}`,
    subject: operator,
    credential: { kind: 'none', id: 'cli' },
    method: action,
    target,
    targetKind,
    decision: 'allow',
    reason,
  };
}

/** What the embedded authorization server did (a sign-in, a token issued, a refresh token replayed). */
export interface OAuthEvent {
  /** e.g. oauth.sign_in, oauth.token, oauth.refresh_reuse, oauth.revoke, oauth.register. */
  method: string;
  decision: 'allow' | 'deny';
  subject: string;
  clientId?: string;
  /** A grant id or token id, never a token. */
  credentialId?: string;
  target?: string;
  targetKind?: AdminTargetKind;
  reason: string;
  ip?: string;
  userAgent?: string;
}

export function oauthRecord(e: OAuthEvent, instance: string): AuditRecord {
  return {
    ts: new Date().toISOString(),
    instance,
    event: 'oauth',
    requestId: randomUUID(),
    subject: e.subject,
    ...(e.clientId ? { clientId: e.clientId } : {}),
    credential: { kind: 'oauth', id: e.credentialId ?? '-' },
    method: e.method,
    ...(e.target ? { target: e.target } : {}),
    ...(e.targetKind ? { targetKind: e.targetKind } : {}),
    decision: e.decision,
    reason: e.reason,
    ...(e.ip ? { ip: e.ip } : {}),
    ...(e.userAgent ? { userAgent: e.userAgent } : {}),
  };
}
