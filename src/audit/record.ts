import type { Principal } from '../shared/principal.js';
import type { McpTarget } from '../policy/targets.js';

/**
 * One decision about one request. The shape is the DESIGN.md audit contract less the fields that the
 * tamper-evident store adds (seq, prevHash, hash) and the outcome fields recorded when a call ends.
 * It never holds a credential: `credential.id` is a key id or token id, never the secret.
 */
export interface AuditRecord {
  ts: string;
  requestId: string;
  subject: string;
  tenant?: string;
  clientId?: string;
  credential: { kind: Principal['credential']['kind']; id: string };
  upstream: string;
  method: string;
  target?: string;
  targetKind?: McpTarget['kind'];
  decision: 'allow' | 'deny';
  reason: string;
  ip?: string;
  userAgent?: string;
}

export interface AuditDecision {
  requestId: string;
  principal: Principal;
  upstream: string;
  method: string;
  target?: McpTarget;
  decision: 'allow' | 'deny';
  reason: string;
  ip?: string;
  userAgent?: string;
}

export function toAuditRecord(d: AuditDecision, now: Date = new Date()): AuditRecord {
  const record: AuditRecord = {
    ts: now.toISOString(),
    requestId: d.requestId,
    subject: d.principal.subject,
    credential: { kind: d.principal.credential.kind, id: d.principal.credential.id },
    upstream: d.upstream,
    method: d.method,
    decision: d.decision,
    reason: d.reason,
  };
  if (d.principal.tenant) record.tenant = d.principal.tenant;
  if (d.principal.clientId) record.clientId = d.principal.clientId;
  if (d.target) {
    // The caller chose this text: bounded, so one request cannot bloat the audit trail.
    record.target = d.target.name.slice(0, 1024);
    record.targetKind = d.target.kind;
  }
  if (d.ip) record.ip = d.ip;
  if (d.userAgent) record.userAgent = d.userAgent.slice(0, 256);
  return record;
}
