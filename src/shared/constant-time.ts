import { createHash, timingSafeEqual } from 'node:crypto';

/** Constant-time comparison of two secrets of any length: their digests always have the same length. */
export function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * True when an `Authorization` header value is `Bearer <expected>` (scheme case-insensitive, RFC 7235), the
 * token compared in constant time: for the gateway's own fixed tokens (the metrics scrape token, the AuthZEN
 * API's). MCP credentials go through resource/bearer.ts, which also refuses them in URLs and twice.
 */
export function presentsBearer(header: string | undefined, expected: string): boolean {
  const presented = /^Bearer +([\x21-\x7e]+) *$/i.exec(header ?? '')?.[1];
  return presented !== undefined && sameSecret(presented, expected);
}
