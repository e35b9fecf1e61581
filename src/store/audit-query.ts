import type { AuditQuery } from './types.js';

/** What the SQLite and PostgreSQL audit stores share: limits, and checking the times a query names. */

export const AUDIT_QUERY_DEFAULT_LIMIT = 1_000;
export const AUDIT_QUERY_MAX_LIMIT = 100_000;

/** Where an empty chain starts; the same value as audit/chain.ts GENESIS_HASH (a test holds them equal). */
export const GENESIS_ANCHOR = Object.freeze({ seq: 0, hash: '0'.repeat(64) });

export function isoTime(ms: number, name: string): string {
  const date = new Date(ms);
  if (!Number.isFinite(ms) || Number.isNaN(date.getTime())) throw new RangeError(`${name} must be a time in epoch milliseconds, got ${ms}`);
  return date.toISOString();
}

export function clampLimit(limit: number | undefined): number {
  if (limit === undefined || Number.isNaN(limit)) return AUDIT_QUERY_DEFAULT_LIMIT;
  return Math.min(AUDIT_QUERY_MAX_LIMIT, Math.max(0, Math.trunc(limit)));
}

/** The filters of a query as column = value pairs (the columns both stores compute from the record's text). */
export function equalityFilters(query: AuditQuery): Array<[column: string, value: string]> {
  const out: Array<[string, string]> = [];
  for (const column of ['subject', 'target', 'decision', 'event', 'instance', 'upstream'] as const) {
    const value = query[column];
    if (value !== undefined) out.push([column, value]);
  }
  return out;
}
