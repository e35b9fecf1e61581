import { createHmac, randomBytes } from 'node:crypto';
import type { RedisConnection } from './connection.js';

/** A secret of this process: what one instance uses. */
export class LocalSecret {
  private readonly value = randomBytes(32);
  current(): Buffer {
    return this.value;
  }
  close(): void {}
}

/**
 * A secret every instance shares (e.g. the key that seals `requestState`), created once by whichever instance
 * comes first (`SET NX`), read by the others. Re-read every `refreshMs`, so that if Redis lost it (flushed,
 * replaced) and a new instance created another, all instances agree again within that time. Each use derives
 * its own key from it (HMAC with the use's name), so one secret serves several purposes without reuse.
 */
export class SharedSecret {
  private value: Buffer;
  private readonly timer: NodeJS.Timeout;

  private constructor(private readonly redis: RedisConnection, private readonly key: string, initial: Buffer, refreshMs: number) {
    this.value = initial;
    this.timer = setInterval(() => void this.refresh().catch((err) => this.redis.failed(err, 'the shared secret is kept as last read')), refreshMs);
    this.timer.unref();
  }

  static async open(redis: RedisConnection, name: string, refreshMs = 30_000): Promise<SharedSecret> {
    const key = redis.key(`secret:${name}`);
    const value = await readOrCreate(redis, key);
    return new SharedSecret(redis, key, value, refreshMs);
  }

  current(): Buffer {
    return this.value;
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async refresh(): Promise<void> {
    this.value = await readOrCreate(this.redis, this.key);
  }
}

async function readOrCreate(redis: RedisConnection, key: string): Promise<Buffer> {
  await redis.client.set(key, randomBytes(32).toString('base64'), 'NX');
  const stored = await redis.client.get(key);
  const value = stored ? Buffer.from(stored, 'base64') : undefined;
  if (!value || value.length < 32) throw new Error(`the shared secret ${key} in Redis is not 32 bytes of base64; delete the key so that a new one is made`);
  return value;
}

/** The key for one use of a secret. */
export function deriveKey(secret: Buffer, use: string): Buffer {
  return createHmac('sha256', secret).update(`mcp-warden ${use}`).digest();
}
