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

  /** True when `owner` may use the session; refreshes it (Map order doubles as least-recently-used order). */
  check(sessionId: string, owner: string, now = Date.now()): boolean {
    const binding = this.owners.get(sessionId);
    if (!binding) return false;
    if (now - binding.lastSeen > this.idleMs) {
      this.owners.delete(sessionId);
      return false;
    }
    if (binding.owner !== owner) return false;
    this.bind(sessionId, owner, now);
    return true;
  }

  forget(sessionId: string): void {
    this.owners.delete(sessionId);
  }

  get size(): number {
    return this.owners.size;
  }
}
