export { TokenBucketLimiter, type TokenBucketOptions, type TakeResult } from './token-bucket.js';
export type { RateLimiter } from './limiter.js';
export { RedisBucketLimiter, type RedisBucketOptions } from './redis-bucket.js';
