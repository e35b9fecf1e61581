import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from '../../shared/log.js';

export interface RedisConnectionOptions {
  /** redis:// or rediss:// URL; its password never reaches a log or an error. */
  url: string;
  /** Every key and channel starts with it (default `warden:`). */
  keyPrefix?: string;
  /** A command not answered within this time fails (ms). */
  commandTimeout?: number;
  /** How long open() waits for the first connection (ms). */
  connectTimeout?: number;
  /** After a command failed, Redis is left alone this long before it is tried again (ms). */
  retryAfter?: number;
  now?: () => number;
}

/** Redis could not be reached or answered an error; the message never holds the URL's password. */
export class RedisUnavailableError extends Error {
  readonly code = 'shared_state_unavailable' as const;
  constructor(message: string) {
    super(message);
    this.name = 'RedisUnavailableError';
  }
}

/** The URL as it may be shown: the password replaced. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unparseable Redis URL)';
  }
}

/**
 * One command client and one subscriber connection per process, shared by every part that uses Redis.
 *
 * Fails fast instead of queueing: the offline queue is off and commands time out, so a Redis that is down or
 * hung gives an error within `commandTimeout`, never a request that hangs. The parts decide what an error
 * means (rate limits fall back to local buckets; revocation state is then not trusted). After a failure,
 * `usable()` is false for `retryAfter`, so an outage costs one timeout per second, not one per request, and
 * the outage is logged once when it starts and once when it ends.
 */
export class RedisConnection {
  readonly prefix: string;
  private readonly password: string;
  private failedAt: number | undefined;
  private outageLogged = false;
  /** Commands that failed (each a fallback or a refusal by the part that sent it): for metrics. */
  failures = 0;
  private closed = false;

  private constructor(
    readonly client: Redis,
    readonly subscriber: Redis,
    private readonly options: RedisConnectionOptions,
    private readonly log: Logger,
  ) {
    this.prefix = options.keyPrefix ?? 'warden:';
    this.password = safePassword(options.url);
  }

  /** Connects both connections; rejects (with the URL redacted) when Redis is not reachable within connectTimeout. */
  static async open(options: RedisConnectionOptions, log: Logger): Promise<RedisConnection> {
    const connectTimeout = options.connectTimeout ?? 5_000;
    const base = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeout ?? 500,
      connectTimeout,
      // Reconnect quickly at first, then every 2 s at most, for ever: an instance recovers on its own.
      retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
    };
    const client = new Redis(options.url, { ...base, connectionName: 'warden' });
    const subscriber = new Redis(options.url, { ...base, connectionName: 'warden-sub', commandTimeout: undefined });
    const connection = new RedisConnection(client, subscriber, options, log.child({ component: 'redis' }));
    client.on('error', (err: Error) => connection.noteError(err));
    // A connection that closes (Redis stopped, a proxy cut it) emits no error until a reconnect fails.
    client.on('close', () => connection.noteError(new Error('the connection to Redis closed')));
    subscriber.on('error', (err: Error) => connection.noteError(err));
    try {
      await withTimeout(Promise.all([client.connect(), subscriber.connect()]), connectTimeout + 100);
    } catch (err) {
      client.disconnect();
      subscriber.disconnect();
      throw new RedisUnavailableError(`Redis at ${redactRedisUrl(options.url)} is not reachable: ${connection.scrub(err)}`);
    }
    return connection;
  }

  /** The key (or channel) `name` under this deployment's prefix. */
  key(name: string): string {
    return `${this.prefix}${name}`;
  }

  /**
   * The key for a caller-chosen id under `name`: the id's SHA-256, so that an id can neither grow a key nor
   * reach another namespace's, and Redis never holds a bearer value (a session id, a `state`) as such.
   */
  hashedKey(name: string, id: string): string {
    return this.key(name) + createHash('sha256').update(id).digest('base64url');
  }

  /**
   * One command of a shared part (`part`: what is unavailable without it): counts the success, or starts an
   * outage (logged once; `instead`: what callers do meanwhile) and rejects with RedisUnavailableError. Callers
   * refuse on that rejection; they never take "cannot tell" for an answer.
   */
  async command<T>(part: string, instead: string, run: () => Promise<T>): Promise<T> {
    if (!this.ready) throw new RedisUnavailableError(`${part} is unavailable: Redis is not connected`);
    try {
      const result = await run();
      this.succeeded();
      return result;
    } catch (err) {
      this.failed(err, instead);
      throw new RedisUnavailableError(`${part} is unavailable: ${this.scrub(err)}`);
    }
  }

  /** True when the command connection is up. */
  get ready(): boolean {
    return this.client.status === 'ready';
  }

  /** Whether a command is worth sending now: connected, and no failure within `retryAfter`. */
  usable(): boolean {
    if (!this.ready) return false;
    return this.failedAt === undefined || this.now() - this.failedAt >= (this.options.retryAfter ?? 1_000);
  }

  /** Round trip to Redis, for /readyz. */
  async ping(): Promise<{ ok: true; ms: number } | { ok: false; error: string }> {
    const started = performance.now();
    try {
      await this.client.ping();
      return { ok: true, ms: Math.round((performance.now() - started) * 10) / 10 };
    } catch (err) {
      return { ok: false, error: this.scrub(err) };
    }
  }

  /** A command failed: start (and log, once) an outage. `what` says what the caller does instead. */
  failed(err: unknown, what: string): void {
    this.failures++;
    this.failedAt = this.now();
    if (this.outageLogged) return;
    this.outageLogged = true;
    this.log.warn({ err: this.scrub(err), first: what }, 'Redis unreachable: rate limits use per-instance buckets, caches are bypassed and /readyz is 503 after redis.staleAfter, shared sessions and sign-ins get 503; logged once until it answers again');
  }

  /** A command succeeded: an outage, if any, is over. */
  succeeded(): void {
    if (this.failedAt === undefined) return;
    this.failedAt = undefined;
    if (this.outageLogged) this.log.info('Redis answers again: shared state back in use');
    this.outageLogged = false;
  }

  /** Message of an error without the URL's password. */
  scrub(err: unknown): string {
    const message = err instanceof Error ? err.message : String(err);
    return this.password ? message.split(this.password).join('***') : message;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // QUIT lets replies in flight arrive; bounded, since a hung Redis would never answer it.
    await withTimeout(Promise.allSettled([this.client.quit(), this.subscriber.quit()]), 500).catch(() => {});
    this.client.disconnect();
    this.subscriber.disconnect();
  }

  private noteError(err: Error): void {
    // ioredis emits one 'error' per failed reconnect attempt; the outage log says it once.
    if (!this.closed) this.failed(err, 'reconnecting');
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}

function safePassword(url: string): string {
  try {
    return decodeURIComponent(new URL(url).password);
  } catch {
    return '';
  }
}

/** `promise`, or a rejection after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no connection within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Runs a Lua script by its SHA (EVALSHA), loading it on the first NOSCRIPT (a restarted or flushed Redis
 * forgets its scripts); EVAL both runs and caches it, so the next call is an EVALSHA again.
 */
export class RedisScript {
  private sha: string | undefined;

  constructor(private readonly source: string) {}

  async run(client: Redis, keys: string[], args: (string | number)[]): Promise<unknown> {
    this.sha ??= (await client.script('LOAD', this.source)) as string;
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}
