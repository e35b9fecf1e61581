import { createHash } from 'node:crypto';
import { RedisUnavailableError, type RedisConnection } from './connection.js';

/**
 * Remembers one-time identifiers (an ID-JAG's or a DPoP proof's `jti`) until they expire, so that a second use
 * is refused. `seen` answers false the first time an id is presented (and records it), true every time after,
 * until `expiresAt` (epoch ms). It rejects when it cannot tell (Redis unreachable): callers refuse then.
 */
export interface ReplayCache {
  seen(id: string, expiresAt: number): Promise<boolean>;
}

/**
 * One process. Bounded: expired ids are swept as it fills, and when it is full of ids that have not expired it
 * answers "seen" (refuses) rather than forget one, since forgetting an id is what lets a replay through.
 */
export class MemoryReplayCache implements ReplayCache {
  private readonly ids = new Map<string, number>();

  constructor(private readonly max = 100_000, private readonly now: () => number = Date.now) {}

  async seen(id: string, expiresAt: number): Promise<boolean> {
    const now = this.now();
    const known = this.ids.get(id);
    if (known !== undefined && known > now) return true;
    if (this.ids.size >= this.max) this.sweep(now);
    if (this.ids.size >= this.max) return true;
    this.ids.set(id, expiresAt);
    return false;
  }

  get size(): number {
    return this.ids.size;
  }

  private sweep(now: number): void {
    for (const [id, expiresAt] of this.ids) if (expiresAt <= now) this.ids.delete(id);
  }
}

/**
 * Shared by every instance: `SET key NX PXAT expiresAt`, atomic, so two instances given the same id at once
 * cannot both see it first. Keys are the SHA-256 of the id under a namespace (`idjag`, `dpop`), so a
 * caller-chosen id can neither grow a key nor reach another namespace's. Fails closed.
 */
export class RedisReplayCache implements ReplayCache {
  private readonly prefix: string;

  constructor(private readonly redis: RedisConnection, namespace: string, private readonly now: () => number = Date.now) {
    this.prefix = redis.key(`jti:${namespace}:`);
  }

  async seen(id: string, expiresAt: number): Promise<boolean> {
    // Already expired: nothing to remember, and a PXAT in the past would be refused by Redis.
    const until = Math.max(Math.ceil(expiresAt), this.now() + 1_000);
    const key = this.prefix + createHash('sha256').update(id).digest('base64url');
    try {
      const set = await this.redis.client.set(key, '1', 'PXAT', until, 'NX');
      this.redis.succeeded();
      return set === null;
    } catch (err) {
      this.redis.failed(err, 'one-time ids (jti) cannot be checked, so they are refused');
      throw new RedisUnavailableError(`the replay cache is unavailable: ${this.redis.scrub(err)}`);
    }
  }
}
