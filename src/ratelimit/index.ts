export { TokenBucketLimiter, type TokenBucketOptions, type TakeResult } from './token-bucket.js';
