import { isPostgres, type RedisConfig, type WardenConfig } from '../config/index.js';
import type { Logger } from '../shared/log.js';
import { TokenBucketLimiter, RedisBucketLimiter, type RateLimiter } from '../ratelimit/index.js';
import {
  RedisConnection, redactRedisUrl, LocalChangeFeed, RedisChangeFeed, MemoryReplayCache, RedisReplayCache, RedisSessionDirectory,
  LocalSecret, SharedSecret, deriveKey, MemoryPendingStore, RedisPendingStore, type SharedChangeFeed, type ReplayCache, type SessionDirectory, type PendingStore,
} from '../store/redis/index.js';
import { SignInThrottle, type SignInGuard, type SignInThrottleOptions } from '../authorization-server/sign-in-throttle.js';
import { RedisSignInThrottle } from '../authorization-server/redis-sign-in-throttle.js';

/**
 * What several gateway instances must share, behind one object: in memory for one instance (the default,
 * today's behaviour at today's cost), in Redis when `store.redis` is set. The gateway asks this for its rate
 * limiters, the change feed its caches follow, the session directory, replay caches and the requestState key.
 */
export interface SharedState {
  readonly kind: 'memory' | 'redis';
  /** A rate limiter for one limit (`name` keeps limits apart in Redis). */
  limiter(name: string, limit: { requestsPerSecond: number; burst: number }): RateLimiter;
  /** The sign-in back-off (per username and address, per username). */
  signInThrottle(options: SignInThrottleOptions): SignInGuard;
  /** Short-lived state a later request, on any instance, picks up (company sign-ins awaiting the IdP's callback). */
  pending<T>(namespace: string): PendingStore<T>;
  /** Tells every instance's caches that a cached table changed (revocations); fails closed when stale. */
  readonly changes: SharedChangeFeed;
  /** Where sessions opened on any instance are recorded; undefined for one instance (each keeps its own). */
  sessionDirectory(upstream: string, ttlMs: number): SessionDirectory | undefined;
  /** One-time ids (`idjag`, `dpop`): a second use on any instance is refused. */
  replay(namespace: string): ReplayCache;
  /** The HMAC key that seals `requestState`: the same on every instance. */
  requestStateKey(): Buffer;
  /** False while shared state cannot be trusted (Redis unreachable past `redis.staleAfter`): /readyz is 503. */
  healthy(): boolean;
  /** For /readyz on loopback. */
  status(): Promise<Record<string, unknown>>;
  /** Counters for /metrics. */
  readonly stats: { rateLimitFallbacks: number; redisFailures(): number };
  close(): Promise<void>;
}

/** The Redis URL of the config, if any. */
export function redisUrlOf(config: Pick<WardenConfig, 'store'>): string | undefined {
  return isPostgres(config.store) ? config.store.redis : undefined;
}

/** Opens the shared state the config asks for; with Redis, rejects (URL redacted) when it is not reachable. */
export async function openSharedState(config: Pick<WardenConfig, 'store' | 'redis'>, log: Logger): Promise<SharedState> {
  const url = redisUrlOf(config);
  return url ? openRedisState(url, config.redis, log) : memoryState();
}

/** One instance: everything in this process. */
export function memoryState(): SharedState {
  const changes = new LocalChangeFeed();
  const secret = new LocalSecret();
  const replays = new Map<string, ReplayCache>();
  const stats = { rateLimitFallbacks: 0, redisFailures: () => 0 };
  return {
    kind: 'memory',
    limiter: (_name, l) => new TokenBucketLimiter({ ratePerSecond: l.requestsPerSecond, burst: l.burst }),
    signInThrottle: (options) => new SignInThrottle(options),
    pending: <T>() => new MemoryPendingStore<T>(),
    changes,
    sessionDirectory: () => undefined,
    replay: (namespace) => replays.get(namespace) ?? replays.set(namespace, new MemoryReplayCache()).get(namespace)!,
    requestStateKey: () => secret.current(),
    healthy: () => true,
    status: async () => ({ kind: 'memory' }),
    stats,
    close: async () => {},
  };
}

async function openRedisState(url: string, options: RedisConfig, log: Logger): Promise<SharedState> {
  const redis = await RedisConnection.open({
    url, keyPrefix: options.keyPrefix, commandTimeout: options.commandTimeout, connectTimeout: options.connectTimeout,
  }, log);
  let changes: RedisChangeFeed | undefined;
  let secret: SharedSecret | undefined;
  try {
    changes = await RedisChangeFeed.open(redis, { pollInterval: options.pollInterval, staleAfter: options.staleAfter });
    secret = await SharedSecret.open(redis, 'request-state');
  } catch (err) {
    changes?.close();
    await redis.close();
    throw new Error(`store.redis (${redactRedisUrl(url)}): ${redis.scrub(err)}`);
  }
  const feed = changes;
  const shared = secret;
  const requestKey = { from: shared.current(), key: deriveKey(shared.current(), 'request-state') };
  const replays = new Map<string, ReplayCache>();
  const stats = { rateLimitFallbacks: 0, redisFailures: () => redis.failures };
  log.info({ redis: redactRedisUrl(url), keyPrefix: redis.prefix }, 'shared state in Redis');
  return {
    kind: 'redis',
    limiter: (name, l) => new RedisBucketLimiter(redis, {
      name, ratePerSecond: l.requestsPerSecond, burst: l.burst, onFallback: () => void stats.rateLimitFallbacks++,
    }),
    signInThrottle: (options) => new RedisSignInThrottle(redis, options),
    pending: <T>(namespace: string) => new RedisPendingStore<T>(redis, namespace),
    changes: feed,
    sessionDirectory: (upstream, ttlMs) => new RedisSessionDirectory(redis, upstream, ttlMs),
    replay: (namespace) => replays.get(namespace) ?? replays.set(namespace, new RedisReplayCache(redis, namespace)).get(namespace)!,
    requestStateKey: () => {
      // Derived once per secret, not per request.
      const current = shared.current();
      if (current !== requestKey.from) Object.assign(requestKey, { from: current, key: deriveKey(current, 'request-state') });
      return requestKey.key;
    },
    healthy: () => feed.healthy(),
    status: async () => ({ kind: 'redis', ready: redis.ready, ping: await redis.ping(), changes: feed.status() }),
    stats,
    close: async () => {
      feed.close();
      shared.close();
      await redis.close();
    },
  };
}
