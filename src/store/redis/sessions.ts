import type { RedisConnection } from './connection.js';

/** Who opened an MCP session, and where it lives. */
export interface SessionRecord {
  /** `sessionOwner` of the principal that opened it (tenant, subject, OAuth client). */
  owner: string;
  upstream: string;
  /** The gateway instance that opened it (for stdio: where its child runs). */
  instance: string;
  /** http: the upstream holds the session, any instance can forward; stdio: only `instance` can answer. */
  kind: 'http' | 'stdio';
}

/**
 * Session id → record, for the sessions every instance must know of. Entries expire after `ttlMs` without
 * use; a lookup is a use. Each instance still keeps the sessions it opened in memory
 * (`gateway/upstreams/session-bindings.ts`, the stdio children): this is what another instance asks when a
 * session id it does not know arrives. `lookup` rejects when it cannot tell (Redis unreachable): the caller
 * refuses then (503), it never treats "cannot tell" as "unknown" or as "yours".
 */
export interface SessionDirectory {
  bind(sessionId: string, record: SessionRecord): Promise<void>;
  lookup(sessionId: string): Promise<SessionRecord | undefined>;
  /** Refreshes the expiry without reading (the owning instance, on use). */
  touch(sessionId: string): Promise<void>;
  forget(sessionId: string): Promise<void>;
}

/** One process: the same answers, from a bounded map (oldest dropped first). */
export class MemorySessionDirectory implements SessionDirectory {
  private readonly records = new Map<string, { record: SessionRecord; lastSeen: number }>();

  constructor(private readonly ttlMs: number, private readonly max = 10_000, private readonly now: () => number = Date.now) {}

  async bind(sessionId: string, record: SessionRecord): Promise<void> {
    this.records.delete(sessionId);
    this.records.set(sessionId, { record, lastSeen: this.now() });
    if (this.records.size > this.max) this.records.delete(this.records.keys().next().value!);
  }

  async lookup(sessionId: string): Promise<SessionRecord | undefined> {
    const entry = this.records.get(sessionId);
    if (!entry) return undefined;
    if (this.now() - entry.lastSeen > this.ttlMs) {
      this.records.delete(sessionId);
      return undefined;
    }
    await this.bind(sessionId, entry.record);
    return entry.record;
  }

  async touch(sessionId: string): Promise<void> {
    await this.lookup(sessionId);
  }

  async forget(sessionId: string): Promise<void> {
    this.records.delete(sessionId);
  }
}

/**
 * The directory in Redis: one key per upstream and session (the SHA-256 of its id: ids are the upstream's, of
 * any length), holding the record as JSON, with a TTL that every lookup refreshes (GETEX PX).
 */
export class RedisSessionDirectory implements SessionDirectory {
  private readonly name: string;

  constructor(private readonly redis: RedisConnection, upstream: string, private readonly ttlMs: number) {
    this.name = `session:${upstream}:`;
  }

  async bind(sessionId: string, record: SessionRecord): Promise<void> {
    await this.command(() => this.redis.client.set(this.keyOf(sessionId), JSON.stringify(record), 'PX', this.ttlMs));
  }

  async lookup(sessionId: string): Promise<SessionRecord | undefined> {
    const text = await this.command(() => this.redis.client.getex(this.keyOf(sessionId), 'PX', this.ttlMs));
    if (text === null) return undefined;
    try {
      const record = JSON.parse(text) as SessionRecord;
      return typeof record.owner === 'string' && typeof record.instance === 'string' ? record : undefined;
    } catch {
      return undefined;
    }
  }

  async touch(sessionId: string): Promise<void> {
    await this.command(() => this.redis.client.pexpire(this.keyOf(sessionId), this.ttlMs));
  }

  async forget(sessionId: string): Promise<void> {
    await this.command(() => this.redis.client.del(this.keyOf(sessionId)));
  }

  private keyOf(sessionId: string): string {
    return this.redis.hashedKey(this.name, sessionId);
  }

  private command<T>(run: () => Promise<T>): Promise<T> {
    return this.redis.command('the session directory', 'sessions opened on other instances are refused with 503', run);
  }
}
