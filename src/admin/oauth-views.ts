import type { OAuthModelRecord } from '../store/index.js';
import { iso } from '../shared/text.js';

/**
 * Clients and grants as oidc-provider stores them (JSON payloads through the store's OAuth adapter), read into
 * plain views. A stored record is never worth a crash: what cannot be read shows as absent.
 */

/** The payload of a stored record, or {} when it is not a JSON object. */
export function payloadOf(record: OAuthModelRecord): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(record.payload);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const strings = (v: unknown): string[] | null => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const words = (scope: unknown): string[] => (typeof scope === 'string' ? scope.split(' ').filter(Boolean) : []);

/**
 * How a client came to be: `service` (made by the admin services: the client_credentials grant only),
 * `metadata-document` (an https client_id, a Client ID Metadata Document), or `dynamic` (RFC 7591 registration).
 * Told apart by the metadata alone: oidc-provider strips properties it does not know when it loads a client.
 */
export type ClientKind = 'service' | 'metadata-document' | 'dynamic';

export interface ClientView {
  client_id: string;
  client_name: string | null;
  kind: ClientKind;
  grant_types: string[];
  response_types: string[];
  redirect_uris: string[];
  token_endpoint_auth_method: string;
  application_type: string | null;
  scope: string | null;
  client_uri: string | null;
  createdAt: string | null;
  /** Unexpired grants of the client. */
  liveGrants: number;
}

export interface GrantView {
  id: string;
  user: string | null;
  clientId: string | null;
  /** OpenID scopes (openid, offline_access...). */
  scopes: string[];
  /** Resource (the gateway's MCP URL) -> the scopes granted for it. */
  resources: Record<string, string[]>;
  createdAt: string | null;
  expiresAt: string | null;
}

/** A client's metadata as shown: never client_secret, not even its digest. Defaults are oidc-provider's. */
export function clientView(record: OAuthModelRecord, liveGrants: number): ClientView {
  const p = payloadOf(record);
  const grantTypes = strings(p.grant_types) ?? ['authorization_code'];
  const clientId = str(p.client_id) ?? record.id;
  const kind: ClientKind = grantTypes.length > 0 && grantTypes.every((g) => g === 'client_credentials')
    ? 'service'
    : clientId.startsWith('https://') ? 'metadata-document' : 'dynamic';
  const issuedAt = num(p.client_id_issued_at);
  return {
    client_id: record.id,
    client_name: str(p.client_name),
    kind,
    grant_types: grantTypes,
    response_types: strings(p.response_types) ?? ['code'],
    redirect_uris: strings(p.redirect_uris) ?? [],
    token_endpoint_auth_method: str(p.token_endpoint_auth_method) ?? 'client_secret_basic',
    application_type: str(p.application_type),
    scope: str(p.scope),
    client_uri: str(p.client_uri),
    createdAt: iso(issuedAt === null ? null : issuedAt * 1000),
    liveGrants,
  };
}

export function grantView(record: OAuthModelRecord): GrantView {
  const p = payloadOf(record);
  const openid = p.openid !== null && typeof p.openid === 'object' ? (p.openid as Record<string, unknown>) : {};
  const resources: Record<string, string[]> = {};
  if (p.resources !== null && typeof p.resources === 'object') {
    for (const [url, scope] of Object.entries(p.resources as Record<string, unknown>)) resources[url] = words(scope);
  }
  const iat = num(p.iat);
  const exp = num(p.exp);
  return {
    id: record.id,
    user: str(p.accountId),
    clientId: str(p.clientId),
    scopes: words(openid.scope),
    resources,
    createdAt: iso(iat === null ? null : iat * 1000),
    expiresAt: iso(exp !== null ? exp * 1000 : record.expiresAt),
  };
}
