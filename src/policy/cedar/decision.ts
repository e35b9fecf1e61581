import type { PolicyRequest } from './request.js';

/** A policy named in an explanation: its id and `@reason`, never its text. */
export interface PolicyRef {
  id: string;
  reason?: string;
}

export interface PolicyVerdict {
  allowed: boolean;
  /**
   * What determined it: on allow the permits that matched; on deny the forbids that matched (or failed), and
   * none when no permit matched (default deny).
   */
  determining: PolicyRef[];
  /** Ids of policies that could not be evaluated for this request. */
  errors: string[];
  /** Which decision point answered: `cedar`, or `authzen` for a remote one. */
  by: 'cedar' | 'authzen';
  /** Why a remote decision point gave no answer (timeout, bad answer); the verdict is then a deny. */
  failure?: string;
}

/**
 * Something that decides policy requests: the local Cedar engine, or a remote PDP over AuthZEN. Decisions may
 * be asynchronous (remote); list filtering needs an answer per item as the list streams back, so only decision
 * points that can answer at once implement `permitsItem`.
 */
export interface PolicyDecisionPoint {
  decide(request: PolicyRequest): PolicyVerdict | Promise<PolicyVerdict>;
  /** Whether a list may show an item: the decision for using it, with arguments unknown (`context.listing`). */
  permitsItem?(request: PolicyRequest): boolean;
  /** For /readyz (loopback only) and `warden policy check`. */
  status(): Record<string, unknown>;
}

/** How an audit record's `reason` names a policy decision, e.g. `cedar forbid: refund-limit`. */
export function verdictReason(v: PolicyVerdict): string {
  if (v.failure) return `${v.by}: no decision (${v.failure}), denied`;
  const ids = v.determining.map((p) => p.id).join(', ');
  if (v.allowed) return `${v.by} permit: ${ids || '(remote)'}`;
  if (ids) return `${v.by} forbid: ${ids}`;
  return `${v.by}: no policy permits it (default deny)`;
}
