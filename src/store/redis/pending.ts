import type { RedisConnection } from './connection.js';

/**
 * Short-lived state one request leaves for a later one that may reach another instance (a company sign-in
 * started here, whose IdP callback lands anywhere; an admin console session). Keyed by an unguessable value (`state`); each entry
 * expires after the TTL it was put with; `take` reads and deletes at once, so an entry is used once.
 * Methods reject when they cannot tell (Redis unreachable): callers refuse then.
 */
export interface PendingStore<T> {
  put(key: string, value: T, ttlMs: number): Promise<void>;
  get(key: string): Promise<T | undefined>;
  /** Replaces the value and keeps its expiry; false when the entry is gone. */
  update(key: string, value: T): Promise<boolean>;
  take(key: string): Promise<T | undefined>;
}

/** One process: a bounded map (a flood of entries pushes out the oldest, memory never grows without end). */
export class MemoryPendingStore<T> implements PendingStore<T> {
  private readonly entries = new Map<string, { value: T; expires: number }>();

  constructor(private readonly max = 10_000, private readonly now: () => number = Date.now) {}

  async put(key: string, value: T, ttlMs: number): Promise<void> {
    const now = this.now();
    for (const [k, e] of this.entries) if (e.expires < now) this.entries.delete(k);
    while (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, expires: now + ttlMs });
  }

  async get(key: string): Promise<T | undefined> {
    const entry = this.entries.get(key);
    return entry && entry.expires >= this.now() ? entry.value : undefined;
  }

  async update(key: string, value: T): Promise<boolean> {
    const entry = this.entries.get(key);
    if (!entry || entry.expires < this.now()) return false;
    entry.value = value;
    return true;
  }

  async take(key: string): Promise<T | undefined> {
    const value = await this.get(key);
    this.entries.delete(key);
    return value;
  }
}

/** In Redis, as JSON under the SHA-256 of the key (a `state` is a bearer value: it is not stored as such). */
export class RedisPendingStore<T> implements PendingStore<T> {
  private readonly name: string;
  /** What is unavailable without Redis, for errors and the outage log: the namespace says whose state it is. */
  private readonly part: string;

  constructor(private readonly redis: RedisConnection, namespace: string) {
    this.name = `pending:${namespace}:`;
    this.part = `the shared ${namespace} state`;
  }

  async put(key: string, value: T, ttlMs: number): Promise<void> {
    await this.command(() => this.redis.client.set(this.keyOf(key), JSON.stringify(value), 'PX', ttlMs));
  }

  async get(key: string): Promise<T | undefined> {
    return parse<T>(await this.command(() => this.redis.client.get(this.keyOf(key))));
  }

  async update(key: string, value: T): Promise<boolean> {
    return (await this.command(() => this.redis.client.set(this.keyOf(key), JSON.stringify(value), 'KEEPTTL', 'XX'))) === 'OK';
  }

  async take(key: string): Promise<T | undefined> {
    return parse<T>(await this.command(() => this.redis.client.getdel(this.keyOf(key))));
  }

  private keyOf(key: string): string {
    return this.redis.hashedKey(this.name, key);
  }

  private command<R>(run: () => Promise<R>): Promise<R> {
    return this.redis.command(this.part, `requests that need ${this.part} answer 503`, run);
  }
}

function parse<T>(text: string | null): T | undefined {
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}
