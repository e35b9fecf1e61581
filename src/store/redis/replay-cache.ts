import type { RedisConnection } from './connection.js';
import type { ReplayCache } from '../replay-cache.js';

/**
 * Shared by every instance: `SET key NX PXAT expiresAt`, atomic, so two instances given the same id at once
 * cannot both see it first. Keys are the SHA-256 of the id under a namespace (`idjag`, `dpop`), so a
 * caller-chosen id can neither grow a key nor reach another namespace's. Fails closed.
 */
export class RedisReplayCache implements ReplayCache {
  private readonly name: string;

  constructor(private readonly redis: RedisConnection, namespace: string, private readonly now: () => number = Date.now) {
    this.name = `jti:${namespace}:`;
  }

  async seen(id: string, expiresAt: number): Promise<boolean> {
    // Already expired: nothing to remember, and a PXAT in the past would be refused by Redis.
    const until = Math.max(Math.ceil(expiresAt), this.now() + 1_000);
    const set = await this.redis.command('the replay cache', 'one-time ids (jti) cannot be checked, so they are refused',
      () => this.redis.client.set(this.redis.hashedKey(this.name, id), '1', 'PXAT', until, 'NX'));
    return set === null;
  }
}
