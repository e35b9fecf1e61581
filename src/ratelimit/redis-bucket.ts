import { createHash } from 'node:crypto';
import { RedisScript, type RedisConnection } from '../store/redis/connection.js';
import { TokenBucketLimiter, type TakeResult, type TokenBucketOptions } from './token-bucket.js';
import type { RateLimiter } from './limiter.js';

/**
 * The token bucket of `TokenBucketLimiter`, in one Redis hash per key, read and written by one script so that
 * instances taking from the same bucket at once cannot both spend its last token. Time is Redis's own (TIME),
 * so clocks that differ between instances do not matter. A bucket untouched for as long as it takes to
 * refill is the same as a missing one (full), so it expires then: memory is bounded by the keys active in
 * that window. Returns { allowed (0|1), seconds to wait }.
 */
const TAKE = new RedisScript(`
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local bucket = redis.call('HMGET', KEYS[1], 't', 'u')
local tokens = tonumber(bucket[1])
local updated = tonumber(bucket[2])
if tokens == nil or updated == nil then
  tokens = burst
  updated = now
end
tokens = math.min(burst, tokens + math.max(0, now - updated) / 1000 * rate)
local allowed = 0
local wait = 0
if tokens >= 1 - 1e-9 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.max(1, math.ceil((1 - tokens) / rate))
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'u', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return { allowed, wait }
`);

export interface RedisBucketOptions extends Omit<TokenBucketOptions, 'now'> {
  /** Names the limit in its keys (`ip`, `principal`, ...): two limits never share a bucket. */
  name: string;
  /** Called whenever a take was answered by the local buckets because Redis was not usable. */
  onFallback?: () => void;
}

/**
 * Token buckets shared by every instance on one Redis: N per second across all of them, not N per instance.
 * When Redis is unreachable the instance uses its own in-memory buckets (the same limits, per instance), logs
 * the outage once and counts each fallback; once Redis answers again, the shared buckets are used again.
 * Limits are about load, not about who may do what, so this fails open to per-instance limits, not closed.
 */
export class RedisBucketLimiter implements RateLimiter {
  private readonly local: TokenBucketLimiter;
  private readonly prefix: string;
  private readonly rate: number;
  private readonly burst: number;

  constructor(private readonly redis: RedisConnection, private readonly options: RedisBucketOptions) {
    this.local = new TokenBucketLimiter(options);
    this.prefix = redis.key(`rl:${options.name}:`);
    this.rate = options.ratePerSecond;
    this.burst = options.burst;
  }

  async take(key: string): Promise<TakeResult> {
    if (!this.redis.usable()) return this.fallback(key);
    try {
      const [allowed, wait] = (await TAKE.run(this.redis.client, [this.prefix + bucketId(key)], [this.rate, this.burst])) as [number, number];
      this.redis.succeeded();
      return allowed === 1 ? { ok: true } : { ok: false, retryAfterSeconds: wait };
    } catch (err) {
      this.redis.failed(err, 'rate limits use local, per-instance buckets');
      return this.fallback(key);
    }
  }

  private fallback(key: string): TakeResult {
    this.options.onFallback?.();
    return this.local.take(key);
  }
}

/** Keys are IPs, subjects, key ids: short ones are used as they are, long ones hashed so a key stays bounded. */
function bucketId(key: string): string {
  return key.length <= 96 ? `k:${key}` : `h:${createHash('sha256').update(key).digest('base64url')}`;
}
