import { randomBytes } from 'node:crypto';
import { TcpProxy } from './tcp-proxy.js';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { RedisConnection, type RedisConnectionOptions } from '../../src/store/redis/connection.js';
import type { Logger } from '../../src/shared/log.js';

/** The machine's Redis. Tests that need it fail (they do not skip) when it is not there. */
export const REDIS_URL = process.env.WARDEN_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix of its own for one test run, so parallel runs and other engineers' keys never meet. */
export function testPrefix(): string {
  return `warden-test:${randomBytes(6).toString('hex')}:`;
}

/** A logger whose lines the test can read. */
export function capturedLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

/** Opens a connection under a fresh prefix; `cleanup()` deletes every key under it and closes. */
export async function openTestRedis(options: Partial<RedisConnectionOptions> = {}, log: Logger = capturedLog().log) {
  const keyPrefix = options.keyPrefix ?? testPrefix();
  const redis = await RedisConnection.open({ url: REDIS_URL, commandTimeout: 1_000, connectTimeout: 2_000, ...options, keyPrefix }, log);
  return { redis, keyPrefix, cleanup: async () => { await deleteKeys(keyPrefix); await redis.close(); } };
}

/** Deletes every key under `prefix`, through a connection of its own. */
export async function deleteKeys(prefix: string): Promise<void> {
  const admin = await RedisConnection.open({ url: REDIS_URL, keyPrefix: prefix }, pino({ level: 'silent' }));
  try {
    let cursor = '0';
    do {
      const [next, keys] = await admin.client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await admin.client.del(...keys);
    } while (cursor !== '0');
  } finally {
    await admin.close();
  }
}

/** The TCP proxy (tcp-proxy.ts) in front of the real Redis, with its redis:// URL. */
export class RedisProxy extends TcpProxy {
  static async start(target = REDIS_URL): Promise<RedisProxy> {
    const url = new URL(target);
    const proxy = new RedisProxy({ hostname: url.hostname, port: Number(url.port || 6379) });
    await proxy.start();
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
}
