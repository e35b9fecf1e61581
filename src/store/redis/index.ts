export { RedisConnection, RedisUnavailableError, RedisScript, redactRedisUrl, type RedisConnectionOptions } from './connection.js';
export { RedisChangeFeed } from './change-feed.js';
export { LocalChangeFeed, type SharedChangeFeed } from '../change-feed.js';
export type { ChangeFeed } from '../types.js';
export { RedisReplayCache } from './replay-cache.js';
export { MemoryReplayCache, ReplayCacheFull, type ReplayCache } from '../replay-cache.js';
export { MemorySessionDirectory, RedisSessionDirectory, type SessionDirectory, type SessionRecord } from './sessions.js';
export { LocalSecret, SharedSecret, deriveKey } from './shared-secret.js';
export { MemoryPendingStore, RedisPendingStore, type PendingStore } from './pending.js';
