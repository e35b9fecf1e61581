import type Database from 'better-sqlite3';

/**
 * Answers to reads that every request makes (an API key by id, "is any of these revoked?"), kept until the
 * database may have changed: another connection committed (SQLite's `PRAGMA data_version`, which changes
 * exactly then, and costs a couple of microseconds against a lookup's several) or this store wrote to a table
 * a cache reads (`changed()`). So a `warden keys revoke` from another process still holds on the very next
 * request, and a read that nothing could have changed is not repeated.
 */
export class ChangeWatch {
  private readonly dataVersion: Database.Statement<[], number>;
  private local = 0;

  constructor(db: Database.Database) {
    this.dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  }

  /** This store wrote something a cache reads. */
  changed(): void {
    this.local++;
  }

  /** Differs from the last value whenever the database may have changed since. */
  version(): number {
    // data_version fits well within 2^31 in practice; local writes count in the low bits' place above it.
    return this.dataVersion.get()! * 0x100000 + (this.local % 0x100000);
  }
}

/** A bounded map of read answers, emptied whenever the watch says the database may have changed. */
export class ReadCache<V> {
  private readonly entries = new Map<string, V>();
  private seen = -1;

  constructor(private readonly watch: ChangeWatch, private readonly max = 10_000) {}

  get(key: string, load: () => V): V {
    const version = this.watch.version();
    if (version !== this.seen) {
      this.entries.clear();
      this.seen = version;
    }
    if (this.entries.has(key)) return this.entries.get(key)!;
    const value = load();
    // Unknown keys are answered from here too, so the bound matters: past it, start over.
    if (this.entries.size >= this.max) this.entries.clear();
    this.entries.set(key, value);
    return value;
  }
}
