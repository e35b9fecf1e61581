import { z } from 'zod';
import { duration } from './durations.js';

/**
 * `store`: one SQLite file (the default), or PostgreSQL plus Redis for several instances. Parsed as one object
 * and split afterwards rather than as a zod union, so that a mix of the two shapes gets one message that says
 * what to do, instead of a union's two lists of everything that did not match.
 */

export interface SqliteStoreConfig {
  sqlite: string;
  synchronous: 'normal' | 'full';
}

export interface PostgresStoreConfig {
  /** A postgres:// URL; it may hold a password, so it is never shown as it is (shared/connection-url.ts). */
  postgres: string;
  /** A redis:// URL, shared state that must be fast (rate limits, revocation fan-out, sessions). */
  redis: string;
  poolSize: number;
  /** Milliseconds a statement may run before PostgreSQL cancels it. */
  statementTimeout: number;
}

export type StoreConfig = SqliteStoreConfig | PostgresStoreConfig;

export const DEFAULT_SQLITE = './.warden/warden.db';

export function isPostgres(store: StoreConfig): store is PostgresStoreConfig {
  return 'postgres' in store;
}

const SQLITE_KEYS = ['sqlite', 'synchronous'] as const;
const POSTGRES_KEYS = ['postgres', 'redis', 'poolSize', 'statementTimeout'] as const;

function urlOf(schemes: string[], example: string) {
  return z.string().min(1).refine((v) => {
    try {
      return schemes.includes(new URL(v).protocol.replace(/:$/, ''));
    } catch {
      return false;
    }
  }, { message: `expected a ${schemes[0]}:// URL such as ${example} (the value itself is not shown: it may hold a password)` });
}

export const storeSchema = z
  .object({
      sqlite: z.string().min(1).optional().describe('SQLite file, created 0600; relative to the config file (default ./.warden/warden.db)'),
      synchronous: z.enum(['normal', 'full']).optional()
        .describe('SQLite only. normal: a commit survives the process being killed; full: also an OS crash or power loss (an fsync per commit)'),
      postgres: urlOf(['postgres', 'postgresql'], 'postgres://warden@db.internal:5432/warden').optional()
        .describe('PostgreSQL connection URL for several instances, e.g. "${DATABASE_URL}"; needs redis too'),
      redis: urlOf(['redis', 'rediss'], 'redis://redis.internal:6379').optional()
        .describe('Redis URL shared by the instances (rate limits, revocation fan-out, sessions), e.g. "${REDIS_URL}"'),
      poolSize: z.number().int().min(1).max(200).optional().describe('PostgreSQL only: connections per instance (default 10)'),
      statementTimeout: duration.optional().describe('PostgreSQL only: a statement running longer is cancelled (default 5s)'),
    })
    .strict()
    .superRefine((s, ctx) => {
      const sqliteKeys = SQLITE_KEYS.filter((k) => s[k] !== undefined);
      const pgKeys = POSTGRES_KEYS.filter((k) => s[k] !== undefined);
      if (pgKeys.length === 0) return;
      if (sqliteKeys.length > 0) {
        ctx.addIssue({
          code: 'custom',
          path: [sqliteKeys[0]!],
          message: `a store is either { sqlite: FILE } or { postgres: URL, redis: URL }; this one mixes ${sqliteKeys.join(', ')} with ${pgKeys.join(', ')}: remove ${sqliteKeys.join(' and ')} to use PostgreSQL, or the PostgreSQL settings to stay on SQLite`,
        });
        return;
      }
      if (s.postgres === undefined) {
        ctx.addIssue({ code: 'custom', path: [], message: `${pgKeys.join(', ')} ${pgKeys.length === 1 ? 'applies' : 'apply'} to PostgreSQL only; add postgres: "\${DATABASE_URL}" and redis: "\${REDIS_URL}", or remove ${pgKeys.join(' and ')}` });
        return;
      }
      if (s.redis === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['postgres'],
          message: 'several instances share rate limits, revocations and sessions through Redis: add redis: "${REDIS_URL}" beside postgres (one PostgreSQL without Redis is not supported; for one instance, use sqlite)',
        });
      }
    })
    .transform((s): StoreConfig => (s.postgres !== undefined
      ? { postgres: s.postgres, redis: s.redis!, poolSize: s.poolSize ?? 10, statementTimeout: s.statementTimeout ?? 5_000 }
      : { sqlite: s.sqlite ?? DEFAULT_SQLITE, synchronous: s.synchronous ?? 'normal' }))
    .default({ sqlite: DEFAULT_SQLITE, synchronous: 'normal' })
    .describe('where keys, users, clients, signing keys and the audit chain live: { sqlite: FILE } (one instance) or { postgres: URL, redis: URL } (several)');
