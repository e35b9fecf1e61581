import type { ChangeFeed } from './types.js';

/** A feed that can also say whether its version is to be trusted (the Redis one; the local one always is). */
export interface SharedChangeFeed extends ChangeFeed {
  /** False while the feed has not confirmed the shared version within `staleAfter`: revocations may be missed. */
  healthy(): boolean;
  /** For /readyz: how long ago the shared version was last confirmed (ms). */
  status(): { healthy: boolean; confirmedMsAgo: number; version: number };
  close(): void;
}

/**
 * The change feed of one process: a counter. A cache behind it sees this process's own writes at once, and
 * never another instance's, so a PostgreSQL store with it caches nothing that another process could change
 * (postgres.ts keeps its read caches off unless a shared feed is given).
 */
export class LocalChangeFeed implements SharedChangeFeed {
  readonly shared = false;
  private n = 0;

  version(): number {
    return this.n;
  }

  changed(): void {
    this.n++;
  }

  healthy(): boolean {
    return true;
  }

  status() {
    return { healthy: true, confirmedMsAgo: 0, version: this.n };
  }

  close(): void {}
}
