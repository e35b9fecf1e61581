import { GatewayError } from '../../shared/errors.js';
import type { Principal } from '../../shared/principal.js';
import type { SessionOwnerView } from './upstream.js';

/**
 * Which principal owns each MCP session an HTTP upstream handed out. A session id is never a credential:
 * every request is authenticated on its own, and a session presented by anyone but its owner is answered
 * as if it did not exist (MCP security best practices, "session hijacking").
 *
 * Kept in memory: after a restart, or once a binding is evicted, the owner gets 404 too and initializes
 * again, which clients do on 404. Bounded by size (oldest first) and by idle time.
 */
export class SessionBindings {
  private readonly owners = new Map<string, { owner: string; lastSeen: number }>();

  constructor(private readonly idleMs: number, private readonly maxEntries = 10_000) {}

  bind(sessionId: string, owner: string, now = Date.now()): void {
    this.owners.delete(sessionId);
    this.owners.set(sessionId, { owner, lastSeen: now });
    if (this.owners.size > this.maxEntries) this.owners.delete(this.owners.keys().next().value!);
  }

  /** Whether `owner` may use the session; refreshes it when so (Map order doubles as least-recently-used order). */
  check(sessionId: string, owner: string, now = Date.now()): 'owner' | 'unknown' | 'foreign' {
    const binding = this.owners.get(sessionId);
    if (!binding) return 'unknown';
    if (now - binding.lastSeen > this.idleMs) {
      this.owners.delete(sessionId);
      return 'unknown';
    }
    if (binding.owner !== owner) return 'foreign';
    this.bind(sessionId, owner, now);
    return 'owner';
  }

  /** Every binding still within its idle time. */
  entries(now = Date.now()): { sessionId: string; owner: string; lastSeen: number }[] {
    return [...this.owners].filter(([, b]) => now - b.lastSeen <= this.idleMs).map(([sessionId, b]) => ({ sessionId, ...b }));
  }

  has(sessionId: string): boolean {
    return this.owners.has(sessionId);
  }

  forget(sessionId: string): void {
    this.owners.delete(sessionId);
  }

  get size(): number {
    return this.owners.size;
  }
}

/** The answer to a session that is not the caller's: the same whether it is unknown or another principal's. */
export function sessionNotFound(whose: 'unknown' | 'foreign'): { error: GatewayError; reason: string } {
  return {
    error: new GatewayError('session_not_found', 'Session not found: it ended or never existed; initialize a new one'),
    reason: whose === 'foreign' ? "session refused: it belongs to another principal" : 'session refused: unknown or ended',
  };
}

/**
 * Who owns an MCP session: the same user (tenant + subject, and OAuth client when there is one), whichever key
 * they use. The issuer too: a company IdP's `alice` is not the local user `alice`.
 */
export function sessionOwner(principal: Principal): string {
  return JSON.stringify([principal.tenant ?? '', principal.subject, principal.clientId ?? '', principal.issuer ?? '']);
}

/** The parts of a `sessionOwner` string, for display. */
export function ownerView(owner: string): SessionOwnerView {
  try {
    const [tenant, subject, clientId] = JSON.parse(owner) as [string, string, string];
    return { subject, tenant: tenant || null, clientId: clientId || null };
  } catch {
    return { subject: owner, tenant: null, clientId: null };
  }
}
