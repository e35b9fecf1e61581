import { plural } from '../shared/text.js';

/**
 * What `warden store copy` moves: every table that holds warden data, by the columns it copies. The SQLite and
 * PostgreSQL schemas share table and column names and their meaning (text, JSON text, epoch-ms integers; see
 * rows.ts), so a row moves as it is stored. Generated columns (the audit query columns, the OAuth models'
 * account and client ids, PostgreSQL's `seq`) are left out: PostgreSQL computes them again from the copied text.
 */

export type CopiedKind = 'apiKeys' | 'signingKeys' | 'users' | 'oauthModels' | 'revocations' | 'auditAnchors' | 'auditRecords';

type PgType = 'text' | 'bigint' | 'integer';

export interface CopiedTable {
  table: string;
  kind: CopiedKind;
  /** What a person calls one row, for progress and messages. */
  noun: string;
  /** Each column and its PostgreSQL type (the batch goes through `unnest` of one typed array per column). */
  columns: ReadonlyArray<readonly [name: string, type: PgType]>;
}

/**
 * In the order they are copied. OAuth models keep their SQLite rowid order, which becomes PostgreSQL's `seq`:
 * both stores list models in the order they were first saved.
 */
export const COPIED_TABLES: readonly CopiedTable[] = [
  {
    table: 'api_keys', kind: 'apiKeys', noun: 'API key',
    columns: [['id', 'text'], ['hash', 'text'], ['subject', 'text'], ['tenant', 'text'], ['name', 'text'], ['scopes', 'text'], ['roles', 'text'],
      ['created_at', 'bigint'], ['expires_at', 'bigint'], ['last_used_at', 'bigint'], ['revoked_at', 'bigint'], ['replaced_by', 'text']],
  },
  {
    table: 'signing_keys', kind: 'signingKeys', noun: 'signing key',
    columns: [['kid', 'text'], ['use', 'text'], ['alg', 'text'], ['private_jwk', 'text'], ['public_jwk', 'text'], ['created_at', 'bigint'], ['retired_at', 'bigint']],
  },
  {
    table: 'users', kind: 'users', noun: 'user',
    columns: [['username', 'text'], ['password_hash', 'text'], ['roles', 'text'], ['tenant', 'text'], ['display_name', 'text'], ['created_at', 'bigint'],
      ['disabled_at', 'bigint'], ['password_changed_at', 'bigint'], ['failed_logins', 'integer'], ['locked_until', 'bigint']],
  },
  {
    table: 'oauth_models', kind: 'oauthModels', noun: 'OAuth record',
    columns: [['model', 'text'], ['id', 'text'], ['payload', 'text'], ['grant_id', 'text'], ['user_code', 'text'], ['uid', 'text'],
      ['expires_at', 'bigint'], ['consumed_at', 'bigint']],
  },
  {
    table: 'oauth_revocations', kind: 'revocations', noun: 'revocation',
    columns: [['kind', 'text'], ['value', 'text'], ['revoked_at', 'bigint'], ['expires_at', 'bigint']],
  },
  { table: 'audit_anchors', kind: 'auditAnchors', noun: 'audit anchor', columns: [['instance', 'text'], ['seq', 'bigint'], ['hash', 'text']] },
  {
    table: 'audit_records', kind: 'auditRecords', noun: 'audit record',
    columns: [['instance', 'text'], ['seq', 'bigint'], ['body', 'text'], ['prev_hash', 'text'], ['hash', 'text']],
  },
];

export type CopyCounts = Record<CopiedKind, number>;

export function zeroCounts(): CopyCounts {
  return Object.fromEntries(COPIED_TABLES.map((t) => [t.kind, 0])) as CopyCounts;
}

/** `3 API keys, 1 user, 120 audit records` (the kinds that have rows), or `nothing`. */
export function describeCounts(counts: CopyCounts): string {
  const parts = COPIED_TABLES.filter((t) => counts[t.kind] > 0).map((t) => plural(counts[t.kind], t.noun));
  return parts.length > 0 ? parts.join(', ') : 'nothing';
}
