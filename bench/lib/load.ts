/** A closed-loop HTTP load generator over an undici Pool. */
import { Pool } from 'undici';
import { percentile } from './stats.js';

export interface LoadRequest {
  /** Path (and query) on the pool's origin. */
  path: string;
  method?: 'POST' | 'GET';
  headers: Record<string, string>;
  /** Built per request (so ids can differ). */
  body: (seq: number) => string;
  /** Returns an error description for a bad answer, undefined for a good one. Keep it cheap. */
  check: (status: number, text: string) => string | undefined;
}

export interface LoadResult {
  requests: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
  rps: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * Closed loop: `concurrency` workers each send a request, wait for the whole answer, and send the next,
 * until `durationMs` has passed. Latency is measured from just before dispatch to the last body byte.
 */
export async function runLoad(pool: Pool, request: LoadRequest, concurrency: number, durationMs: number): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let seq = 0;
  const started = performance.now();
  const deadline = started + durationMs;

  const worker = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      let problem: string | undefined;
      try {
        const res = await pool.request({ path: request.path, method: request.method ?? 'POST', headers: request.headers, body: request.body(++seq) });
        const text = await res.body.text();
        problem = request.check(res.statusCode, text);
      } catch (err) {
        problem = (err as Error).message;
      }
      const ms = performance.now() - t0;
      if (problem === undefined) {
        latencies.push(ms);
      } else {
        errors++;
        firstError ??= problem;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - started;

  return loadResult(latencies, errors, firstError, elapsedMs);
}

/** Throughput and latency figures of a run, from each successful request's latency (sorted in place). */
export function loadResult(latencies: number[], errors: number, firstError: string | undefined, elapsedMs: number): LoadResult {
  latencies.sort((a, b) => a - b);
  const sum = latencies.reduce((a, b) => a + b, 0);
  return {
    requests: latencies.length,
    errors,
    ...(firstError !== undefined ? { firstError } : {}),
    elapsedMs,
    rps: (latencies.length * 1000) / elapsedMs,
    meanMs: latencies.length ? sum / latencies.length : Number.NaN,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.length ? latencies[latencies.length - 1]! : Number.NaN,
  };
}

/** A keep-alive pool for `origin` with exactly `concurrency` connections (one request per connection). */
export function loadPool(origin: string, concurrency: number): Pool {
  return new Pool(origin, { connections: concurrency, pipelining: 1, keepAliveTimeout: 60_000 });
}
