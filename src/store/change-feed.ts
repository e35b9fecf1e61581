import type { ChangeFeed } from './types.js';

/**
 * The change feed of one process: a counter. A cache behind it sees this process's own writes at once, and
 * never another instance's, so a PostgreSQL store with it caches nothing that another process could change
 * (postgres.ts keeps its read caches off unless a shared feed is given).
 */
export class LocalChangeFeed implements ChangeFeed {
  readonly shared = false;
  private n = 0;

  version(): number {
    return this.n;
  }

  changed(): void {
    this.n++;
  }
}
