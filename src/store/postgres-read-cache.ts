import type { ChangeFeed } from './types.js';

/**
 * How long a cached answer may be kept at most, whatever the feed says: a change whose announcement never
 * reached Redis (a CLI that could not reach it, a message lost with a Redis restart) still holds on every
 * instance within this time. One read per key per instance per half second is what it costs.
 */
export const PG_READ_CACHE_MAX_AGE_MS = 500;

/**
 * Answers to the reads every request makes (an API key by id, "is any of these revoked?"), kept while the
 * change feed's version stays the same, and never longer than PG_READ_CACHE_MAX_AGE_MS. Only behind a shared
 * feed: with a feed that cannot hear other instances, a cached answer could outlive a revoke made elsewhere
 * by up to that age, so nothing is cached.
 */
export class PgReadCache<V> {
  private readonly entries = new Map<string, V>();
  private seen = Number.NaN;
  private startedAt = 0;
  private readonly enabled: boolean;

  constructor(private readonly feed: ChangeFeed, private readonly max = 10_000, private readonly now: () => number = performance.now.bind(performance)) {
    this.enabled = feed.shared === true;
  }

  async get(key: string, load: () => Promise<V>): Promise<V> {
    if (!this.enabled) return load();
    // The version is read before the load: a change during the load moves it, and the next read starts over.
    const version = this.feed.version();
    const now = this.now();
    if (version !== this.seen || now - this.startedAt > PG_READ_CACHE_MAX_AGE_MS) {
      this.entries.clear();
      this.seen = version;
      this.startedAt = now;
    }
    if (this.entries.has(key)) return this.entries.get(key)!;
    const value = await load();
    if (this.feed.version() !== version) return value;
    if (this.entries.size >= this.max) this.entries.clear();
    this.entries.set(key, value);
    return value;
  }
}
