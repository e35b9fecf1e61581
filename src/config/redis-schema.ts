import { z } from 'zod';
import { between } from './durations.js';

/** `redis`: how the gateway uses the Redis that `store.redis` names (several instances; docs/scaling.md). */
export const redisSchema = z
  .object({
    keyPrefix: z.string().min(1).max(64).regex(/^[A-Za-z0-9:._-]+$/, { message: 'letters, digits, : . _ -' }).default('warden:')
      .describe('every key and channel this gateway uses in Redis starts with it: several deployments can share one Redis'),
    commandTimeout: between(20, 10_000, 'between 20ms and 10s').default(500)
      .describe('a Redis command not answered within this time fails, so a hung Redis cannot hang a request'),
    connectTimeout: between(100, 60_000, 'between 100ms and 1m').default(5_000)
      .describe('how long start-up waits for Redis before it refuses to start'),
    pollInterval: between(20, 5_000, 'between 20ms and 5s').default(200)
      .describe('how often each instance reads the revocation counter (pub/sub is faster; this bounds a missed message)'),
    staleAfter: between(100, 30_000, 'between 100ms and 30s').default(1_000)
      .describe('revocation state older than this (Redis unreachable) is not trusted: caches miss, session checks answer 503 and /readyz is 503'),
  })
  .strict()
  .default({ keyPrefix: 'warden:', commandTimeout: 500, connectTimeout: 5_000, pollInterval: 200, staleAfter: 1_000 })
  .describe('how the gateway uses the Redis of store.redis (several instances); ignored without it');
