import pg from 'pg';
import { hostPortOf } from '../shared/connection-url.js';
import { StoreError } from './types.js';

/** What every PostgreSQL model class shares: the pool, a transaction helper and the error mapping. */

export interface PgPoolOptions {
  url: string;
  poolSize?: number;
  /** Milliseconds; sent as statement_timeout on every connection. */
  statementTimeout?: number;
  /** How long to wait for a connection (default 5 s). */
  connectTimeout?: number;
}

/** int8 (bigint) and numeric come back as numbers: epoch ms and seqs stay far below 2^53. */
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: string) => (oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')))
} as unknown as pg.CustomTypesConfig;

export class PgDatabase {
  readonly pool: pg.Pool;
  /** `postgres://user@host:port/db`: for messages, without the password. */
  readonly location: string;
  private readonly where: string;
  private closed = false;

  constructor(options: PgPoolOptions) {
    this.where = hostPortOf(options.url, 5432);
    this.location = safeLocation(options.url);
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      statement_timeout: options.statementTimeout ?? 5_000,
      connectionTimeoutMillis: options.connectTimeout ?? 5_000,
      idleTimeoutMillis: 30_000,
      // What operators see in pg_stat_activity (and bench/cluster.ts counts the CPU of).
      application_name: 'warden',
      types,
    });
    // An idle connection that dies (server restart) must not crash the process; the next query reconnects.
    this.pool.on('error', () => {});
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string | pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult<R>> {
    if (this.closed) throw new StoreError('unavailable', 'the store is closed');
    try {
      return typeof text === 'string' ? await this.pool.query<R>(text, values) : await this.pool.query<R>(text);
    } catch (err) {
      throw this.mapError(err);
    }
  }

  /** Runs `fn` in a transaction on one connection; rolls back on any error. */
  async transaction<T>(fn: (client: PgClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreError('unavailable', 'the store is closed');
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.mapError(err);
    }
    // A connection that drops while checked out emits 'error' besides failing its query; the pool listens
    // only while a connection is idle, so without this the process would die of an unhandled error.
    let lost = false;
    const onLost = (): void => {
      lost = true;
    };
    client.on('error', onLost);
    const wrapped: PgClient = {
      query: async <R extends pg.QueryResultRow>(text: string | pg.QueryConfig, values?: unknown[]) => {
        try {
          return typeof text === 'string' ? await client.query<R>(text, values) : await client.query<R>(text);
        } catch (err) {
          throw this.mapError(err);
        }
      },
    };
    let broken = false;
    try {
      await wrapped.query('BEGIN');
      const result = await fn(wrapped);
      await wrapped.query('COMMIT');
      return result;
    } catch (err) {
      try {
        if (lost) throw new Error('connection lost');
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw err;
    } finally {
      client.off('error', onLost);
      client.release(broken || lost);
    }
  }

  /** A driver error as a StoreError; a seal's or caller's own errors pass through as they are. */
  mapError(err: unknown): unknown {
    if (err instanceof StoreError) return err;
    const e = err as { code?: string; message?: string; constraint?: string };
    if (!(err instanceof Error) || (typeof e.code !== 'string' && !/timeout|terminated|Connection/i.test(e.message ?? ''))) return err;
    const code = e.code ?? '';
    if (code === '23505') return new StoreError('conflict', `already exists (${e.constraint ?? 'unique constraint'})`);
    if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code)) {
      return new StoreError('unavailable', `cannot reach PostgreSQL at ${this.where} (${code}); check that it runs and that store.postgres names it`);
    }
    if (code === '28P01' || code === '28000') {
      return new StoreError('unavailable', `PostgreSQL at ${this.where} refused the credentials in store.postgres (${code}); check the user and password`);
    }
    if (code === '3D000') return new StoreError('unavailable', `PostgreSQL at ${this.where}: the database in store.postgres does not exist (${code}); create it first`);
    if (code === '57014') return new StoreError('unavailable', `PostgreSQL at ${this.where} cancelled a statement that ran past store.statementTimeout (${code})`);
    if (code === '53300') return new StoreError('unavailable', `PostgreSQL at ${this.where} has no connection left (${code}); lower store.poolSize or raise max_connections`);
    if (/^(08|57P)/.test(code)) return new StoreError('unavailable', `the connection to PostgreSQL at ${this.where} failed (${code})`);
    if (/timeout/i.test(e.message ?? '')) return new StoreError('unavailable', `PostgreSQL at ${this.where} did not answer in time`);
    if (/^(42|23|22)/.test(code)) return new StoreError('unavailable', `PostgreSQL at ${this.where} refused a statement (${code}: ${e.message ?? ''})`);
    return new StoreError('unavailable', `PostgreSQL at ${this.where} failed (${code || 'no code'})`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

export interface PgClient {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string | pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

function safeLocation(url: string): string {
  try {
    const u = new URL(url);
    return `postgres://${u.username ? `${decodeURIComponent(u.username)}@` : ''}${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return 'postgres://(unparseable URL)';
  }
}

/**
 * Takes a transaction-scoped advisory lock on `what` (e.g. `migrate`, `audit alice`) in the schema the pool
 * uses: one key per (what, schema), so that stores in other schemas of the same database never wait on each
 * other, and the `mcp-warden` prefix keeps other applications' locks apart. A prepared statement: audit
 * appends take it on every batch.
 */
export async function lockInSchema(client: PgClient, what: string): Promise<void> {
  await client.query({
    name: 'warden_schema_lock',
    text: "SELECT pg_advisory_xact_lock(hashtextextended('mcp-warden ' || $1 || ' in ' || current_schema(), 0))",
    values: [what],
  });
}
