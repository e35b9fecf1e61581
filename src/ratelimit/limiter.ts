import type { TakeResult } from './token-bucket.js';

/**
 * What the pipeline asks of a rate limit, whichever counters back it: the in-memory buckets of one process
 * (answer at once, no promise) or buckets shared in Redis by several instances (a promise). Callers `await`
 * the answer either way, which costs the in-memory path one microtask and nothing else.
 */
export interface RateLimiter {
  /** Spends one token of `key`'s bucket, or says how long until one is there. */
  take(key: string): TakeResult | Promise<TakeResult>;
}
