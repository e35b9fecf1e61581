import type { ChangeFeed } from './types.js';

/**
 * Answers to the reads every request makes (an API key by id, "is any of these revoked?"), kept while the
 * change feed's version stays the same. Only behind a shared feed: with a feed that cannot hear other
 * instances, a cached answer could outlive a revoke made elsewhere, so nothing is cached.
 */
export class PgReadCache<V> {
  private readonly entries = new Map<string, V>();
  private seen = Number.NaN;
  private readonly enabled: boolean;

  constructor(private readonly feed: ChangeFeed, private readonly max = 10_000) {
    this.enabled = feed.shared === true;
  }

  async get(key: string, load: () => Promise<V>): Promise<V> {
    if (!this.enabled) return load();
    // The version is read before the load: a change during the load moves it, and the next read starts over.
    const version = this.feed.version();
    if (version !== this.seen) {
      this.entries.clear();
      this.seen = version;
    }
    if (this.entries.has(key)) return this.entries.get(key)!;
    const value = await load();
    if (this.feed.version() !== version) return value;
    if (this.entries.size >= this.max) this.entries.clear();
    this.entries.set(key, value);
    return value;
  }
}
