import { withTimeout, type RedisConnection } from './connection.js';

import type { SharedChangeFeed } from '../change-feed.js';

export interface RedisChangeFeedOptions {
  /** How often the shared counter is read (ms): bounds how long a missed pub/sub message can go unnoticed. */
  pollInterval?: number;
  /** A version not confirmed for this long is not trusted (ms). */
  staleAfter?: number;
  now?: () => number;
}

const LOCAL_SPAN = 0x100000;

/**
 * Tells every instance that a cached table (API keys, revocations) changed somewhere, so that its caches
 * empty. A shared counter in Redis (INCR) is the truth; pub/sub carries each new value at once, and each
 * instance also reads the counter every `pollInterval`, so a message lost (a reconnect, a slow subscriber)
 * delays a revocation by at most that interval.
 *
 * Fails closed: when the counter has not been confirmed for `staleAfter` (Redis unreachable), `version()`
 * returns a new value on every call, so caches miss and every answer comes from the store itself, which is
 * still right, only slower; `healthy()` is false, so /readyz tells the load balancer to send traffic
 * elsewhere. A change made here while Redis was unreachable is announced as soon as it answers again.
 */
export class RedisChangeFeed implements SharedChangeFeed {
  /** It hears every instance's changes: a store may cache reads behind it (store/types.ts ChangeFeed). */
  readonly shared = true;
  /** The counter's value in Redis as last seen. */
  private seen = 0;
  /** Bumped whenever `seen` changes (also when it goes down: a flushed or replaced Redis). */
  private sharedChanges = 0;
  private local = 0;
  private confirmedAt: number;
  private stale = 0;
  private unannounced = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly counter: string;
  private readonly channel: string;
  private readonly staleAfter: number;
  private readonly now: () => number;
  private polling = false;
  private closed = false;

  private constructor(private readonly redis: RedisConnection, options: RedisChangeFeedOptions, initial: number) {
    this.counter = redis.key('changes');
    this.channel = redis.key('changes');
    this.staleAfter = options.staleAfter ?? 1_000;
    this.now = options.now ?? Date.now;
    this.seen = initial;
    this.confirmedAt = this.now();
    this.timer = setInterval(() => void this.poll(), options.pollInterval ?? 200);
    this.timer.unref();
  }

  /** Subscribes and reads the counter once; rejects when Redis does not answer. */
  static async open(redis: RedisConnection, options: RedisChangeFeedOptions = {}): Promise<RedisChangeFeed> {
    const initial = Number((await redis.client.get(redis.key('changes'))) ?? 0);
    const feed = new RedisChangeFeed(redis, options, initial);
    redis.subscriber.on('message', feed.onMessage);
    try {
      // The subscriber has no command timeout (it waits for messages): this one is bounded here.
      await withTimeout(redis.subscriber.subscribe(feed.channel), 5_000);
    } catch (err) {
      feed.close();
      throw err;
    }
    return feed;
  }

  version(): number {
    if (!this.healthy()) return -++this.stale; // never the same twice: every cache misses
    return this.sharedChanges * LOCAL_SPAN + (this.local % LOCAL_SPAN);
  }

  changed(): void {
    this.local++; // this instance's caches miss at once
    this.unannounced++;
    void this.announce();
  }

  healthy(): boolean {
    return this.now() - this.confirmedAt <= this.staleAfter;
  }

  /** Announces what this process changed and has not announced yet; false when Redis did not take it. */
  async flush(): Promise<boolean> {
    await this.announce();
    return this.unannounced === 0;
  }

  status() {
    return { healthy: this.healthy(), confirmedMsAgo: this.now() - this.confirmedAt, version: this.seen };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.redis.subscriber.off('message', this.onMessage);
    void this.redis.subscriber.unsubscribe(this.channel).catch(() => {});
  }

  private readonly onMessage = (channel: string, message: string): void => {
    if (channel !== this.channel) return;
    const value = Number(message);
    // Messages only move forward; a counter that went back is noticed by the poll.
    if (Number.isSafeInteger(value) && value > this.seen) {
      this.seen = value;
      this.sharedChanges++;
    }
  };

  /** INCR then PUBLISH the new value, in one round trip; retried by the poll until it got through. */
  private async announce(): Promise<void> {
    if (this.unannounced === 0 || this.closed) return;
    const pending = this.unannounced;
    this.unannounced = 0;
    try {
      const value = (await this.redis.client.eval(
        "local v = redis.call('INCR', KEYS[1]) redis.call('PUBLISH', ARGV[1], v) return v", 1, this.counter, this.channel,
      )) as number;
      this.confirm(value);
    } catch (err) {
      this.unannounced += pending;
      this.redis.failed(err, 'revocations made here are announced when it answers again; caches are not trusted meanwhile');
    }
  }

  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      if (this.unannounced > 0) await this.announce();
      const known = this.seen;
      const value = Number((await this.redis.client.get(this.counter)) ?? 0);
      // Below what was known before asking: the counter was lost (Redis flushed or replaced), a change too.
      // Between that and a value a message brought meanwhile: only an answer that was overtaken.
      this.confirm(value, value < known);
    } catch (err) {
      this.redis.failed(err, 'caches are not trusted and /readyz says not ready until it answers');
    } finally {
      this.polling = false;
    }
  }

  /** Redis answered with the counter's `value`; `reset`: it went back to below what was known. */
  private confirm(value: number, reset = false): void {
    if (value > this.seen || reset) {
      this.seen = value;
      this.sharedChanges++;
    }
    this.confirmedAt = this.now();
    this.redis.succeeded();
  }
}
