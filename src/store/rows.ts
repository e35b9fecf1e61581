import type { ApiKeyRecord, OAuthModelRecord, SigningKeyRecord, UserRecord } from './types.js';

/**
 * The tables' rows as both stores read them (SQLite and PostgreSQL share column names and types: text,
 * JSON text for lists, epoch ms as integers), and their records. One place, so the two cannot drift apart.
 */

export interface ApiKeyRow {
  id: string;
  hash: string;
  subject: string;
  tenant: string | null;
  name: string | null;
  scopes: string;
  roles: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
  replaced_by: string | null;
}

export function toApiKey(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    hash: row.hash,
    subject: row.subject,
    tenant: row.tenant,
    name: row.name,
    scopes: JSON.parse(row.scopes) as string[],
    roles: JSON.parse(row.roles) as string[],
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
    replacedBy: row.replaced_by,
  };
}

export interface SigningKeyRow {
  kid: string;
  use: string;
  alg: string;
  private_jwk: string;
  public_jwk: string;
  created_at: number;
  retired_at: number | null;
}

export function toSigningKey(r: SigningKeyRow): SigningKeyRecord {
  return { kid: r.kid, use: r.use, alg: r.alg, privateJwk: r.private_jwk, publicJwk: r.public_jwk, createdAt: r.created_at, retiredAt: r.retired_at };
}

export interface OAuthModelRow {
  model: string;
  id: string;
  payload: string;
  grant_id: string | null;
  user_code: string | null;
  uid: string | null;
  expires_at: number | null;
  consumed_at: number | null;
}

export function toOAuthModel(r: OAuthModelRow): OAuthModelRecord {
  return {
    model: r.model, id: r.id, payload: r.payload, grantId: r.grant_id, userCode: r.user_code, uid: r.uid,
    expiresAt: r.expires_at, consumedAt: r.consumed_at,
  };
}

export const OAUTH_MODEL_COLUMNS = 'model, id, payload, grant_id, user_code, uid, expires_at, consumed_at';

export interface UserRow {
  username: string;
  password_hash: string;
  roles: string;
  tenant: string | null;
  display_name: string | null;
  created_at: number;
  disabled_at: number | null;
  password_changed_at: number;
  failed_logins: number;
  locked_until: number | null;
}

export function toUser(r: UserRow): UserRecord {
  return {
    username: r.username,
    passwordHash: r.password_hash,
    roles: JSON.parse(r.roles) as string[],
    tenant: r.tenant,
    displayName: r.display_name,
    createdAt: r.created_at,
    disabledAt: r.disabled_at,
    passwordChangedAt: r.password_changed_at,
    failedLogins: r.failed_logins,
    lockedUntil: r.locked_until,
  };
}

/** UserRecord fields a patch may change, and their columns. */
export const USER_COLUMN_OF: Record<string, string> = {
  passwordHash: 'password_hash', roles: 'roles', tenant: 'tenant', displayName: 'display_name', disabledAt: 'disabled_at',
  passwordChangedAt: 'password_changed_at', failedLogins: 'failed_logins', lockedUntil: 'locked_until',
};
