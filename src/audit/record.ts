import type { AuditedPrincipal, PresentedCredentialKind } from '../shared/principal.js';
import type { McpTarget } from '../policy/targets.js';

/**
 * What a record is about: a decision on one JSON-RPC request (`call`), a refused credential
 * (`authentication`), how an allowed exchange ended (`outcome`, after the answer), an operator's change
 * (`admin`: keys, users, clients, tokens, signing keys), or what the authorization server did (`oauth`:
 * sign-ins, failed sign-ins, consents, token issuance, refresh-token reuse, revocations).
 */
export type AuditEvent = 'call' | 'authentication' | 'outcome' | 'admin' | 'oauth';

/** What an admin or oauth record is about, besides MCP targets. */
export type AdminTargetKind = 'api_key' | 'user' | 'client' | 'grant' | 'token' | 'signing_key' | 'session' | 'store';

/**
 * One audit record: DESIGN.md's contract less the chain fields (seq, prevHash, hash) that the store adds.
 * It never holds a credential: `credential.id` is a key id or token id, never the secret; tool arguments
 * only when configured, and then redacted and capped.
 */
export interface AuditRecord {
  ts: string;
  /** Which gateway process wrote it (hostname:pid unless configured). */
  instance: string;
  event: AuditEvent;
  requestId: string;
  subject: string;
  tenant?: string;
  clientId?: string;
  /** `unknown`: a refused bearer token that no verifier recognised. */
  credential: { kind: PresentedCredentialKind; id: string };
  /** Who acted for `subject` (delegation), when someone did. */
  actor?: string;
  /** The SHA-256 thumbprint (x5t#S256) of a client certificate presented beside a bearer token. */
  certificate?: string;
  upstream?: string;
  /** The JSON-RPC method, or the admin action (e.g. `keys.revoke`). */
  method: string;
  target?: string;
  targetKind?: McpTarget['kind'] | AdminTargetKind;
  decision: 'allow' | 'deny';
  reason: string;
  /** Outcome: the HTTP status the caller got, the time from arrival to the end of the answer, the gateway error code if any. */
  status?: number;
  latencyMs?: number;
  error?: string;
  /** Tool arguments, only with `audit.arguments.enabled`, redacted and capped. */
  arguments?: unknown;
  /** With policies on: the ids of the policies that determined the decision, and of those that failed to evaluate. */
  policies?: PolicyExplanation;
  ip?: string;
  userAgent?: string;
}

export interface PolicyExplanation {
  determining: string[];
  errors?: string[];
  /** The policy set's version that decided (local Cedar). */
  version?: number;
}

/** A record as the tamper-evident chain holds it. */
export interface ChainedAuditRecord extends AuditRecord {
  seq: number;
  prevHash: string;
  hash: string;
}

export interface AuditDecision {
  event?: 'call' | 'authentication';
  requestId: string;
  principal: AuditedPrincipal;
  upstream: string;
  method: string;
  target?: McpTarget;
  decision: 'allow' | 'deny';
  reason: string;
  arguments?: unknown;
  policies?: PolicyExplanation;
  ip?: string;
  userAgent?: string;
}

export function toAuditRecord(d: AuditDecision, instance: string, now: Date = new Date()): AuditRecord {
  const record: AuditRecord = {
    ts: now.toISOString(),
    instance,
    event: d.event ?? 'call',
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
  if (d.principal.actor) record.actor = d.principal.actor.subject;
  if (d.principal.certificate) record.certificate = d.principal.certificate;
  if (d.target) {
    // The caller chose this text: bounded, so one request cannot bloat the audit trail.
    record.target = d.target.name.slice(0, 1024);
    record.targetKind = d.target.kind;
  }
  if (d.arguments !== undefined) record.arguments = d.arguments;
  if (d.policies) record.policies = d.policies;
  if (d.ip) record.ip = d.ip;
  if (d.userAgent) record.userAgent = d.userAgent.slice(0, 256);
  return record;
}
