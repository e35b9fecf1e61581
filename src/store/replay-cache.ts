/**
 * Remembers one-time identifiers (a DPoP proof's or an ID-JAG's `jti`) until they could no longer be accepted
 * anyway, so that a second use is refused. This process's, bounded; redis/replay-cache.ts has the one several
 * instances share.
 */
export interface ReplayCache {
  /**
   * True when `id` was recorded before and has not expired (a replay); otherwise records it until
   * `expiresAt` (epoch ms) and answers false. Throws `ReplayCacheFull` rather than forget a live entry.
   */
  seen(id: string, expiresAt: number): Promise<boolean>;
}

/** The cache holds as many live entries as it may: forgetting one would let its proof be replayed. */
export class ReplayCacheFull extends Error {
  constructor() {
    super('the replay cache is full');
    this.name = 'ReplayCacheFull';
  }
}

/**
 * One process's replay cache, bounded in size and time. Entries arrive roughly in expiry order (each lives
 * for the proof window after its `iat`), so expired ones are dropped from the front as new ones come; a full
 * sweep runs only when the cache is full. When every entry is still live, a new one is refused, not an old
 * one evicted: fail closed.
 */
export class MemoryReplayCache implements ReplayCache {
  /** id → expiry (epoch ms); Map order is insertion order. */
  private readonly entries = new Map<string, number>();
  /** No entry expires before this: a full cache is not swept again until then. */
  private noneExpireBefore = 0;

  constructor(readonly maxEntries = 100_000, private readonly now: () => number = Date.now) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
  }

  get size(): number {
    return this.entries.size;
  }

  async seen(id: string, expiresAt: number): Promise<boolean> {
    const now = this.now();
    const known = this.entries.get(id);
    if (known !== undefined && known > now) return true;
    if (known !== undefined) this.entries.delete(id);
    this.dropExpiredFront(now);
    if (this.entries.size >= this.maxEntries) this.sweep(now);
    if (this.entries.size >= this.maxEntries) throw new ReplayCacheFull();
    this.entries.set(id, expiresAt);
    if (expiresAt < this.noneExpireBefore) this.noneExpireBefore = expiresAt;
    return false;
  }

  /** A few expired entries at the front per call: the cache shrinks as fast as it grows, at O(1) per call. */
  private dropExpiredFront(now: number): void {
    let budget = 8;
    for (const [id, expiry] of this.entries) {
      if (expiry > now || budget-- === 0) return;
      this.entries.delete(id);
    }
  }

  private sweep(now: number): void {
    if (now < this.noneExpireBefore) return;
    let earliest = Infinity;
    for (const [id, expiry] of this.entries) {
      if (expiry <= now) this.entries.delete(id);
      else if (expiry < earliest) earliest = expiry;
    }
    this.noneExpireBefore = earliest;
  }
}
