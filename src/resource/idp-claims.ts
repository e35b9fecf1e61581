import { createHash } from 'node:crypto';
import type { JwtIssuerConfig } from '../config/index.js';
import type { Principal } from '../shared/principal.js';
import { AuthenticationError } from './errors.js';

/**
 * A verified IdP token's claims turned into a principal: where each part lives is configured per issuer
 * (Entra puts the tenant in `tid` and roles in `roles`, Okta groups in `groups` and scopes in `scp`,
 * Keycloak roles in `realm_access.roles`), and IdP role values become warden roles through the mapping.
 */

/** A claim by name; a dotted name reaches into objects when no claim has the dotted name itself (Auth0's URL-named claims do). */
export function claimAt(claims: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  let value: unknown = claims;
  for (const part of name.split('.')) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** A space-separated string (OAuth `scope`, Entra `scp`) or a list of strings (Okta `scp`, `groups`). */
export function stringsOf(value: unknown): string[] {
  if (typeof value === 'string') return value.split(' ').filter(Boolean);
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string' && v.length > 0);
  return [];
}

/** The mapped warden roles of an IdP token; undefined when a mapping is configured and nothing maps. */
export function mapRoles(idp: JwtIssuerConfig, claims: Record<string, unknown>): string[] | undefined {
  const values = idp.claims.roles ? stringsOf(claimAt(claims, idp.claims.roles)) : [];
  if (!idp.roles) return values;
  const mapping = idp.roles;
  const roles = [...new Set(values.flatMap((v) => (Object.hasOwn(mapping, v) ? mapping[v]! : [])))];
  return roles.length > 0 ? roles : undefined;
}

/** A public id for the credential in audit records: the token's own id, else a digest (never the token). */
export function credentialIdOf(claims: Record<string, unknown>, token: string): string {
  for (const name of ['jti', 'uti']) if (typeof claims[name] === 'string' && claims[name]) return String(claims[name]).slice(0, 128);
  return `sha256:${createHash('sha256').update(token).digest('hex').slice(0, 16)}`;
}

export interface PrincipalSource {
  idp: JwtIssuerConfig;
  /** Names the issuer's place in the config, for messages: auth.jwt.issuers[0]. */
  configPath: string;
  claims: Record<string, unknown>;
  credentialId: string;
}

export function principalFromClaims({ idp, configPath, claims, credentialId }: PrincipalSource): Principal {
  const subject = claimAt(claims, idp.claims.subject);
  if (typeof subject !== 'string' || subject === '') {
    throw new AuthenticationError(`Unauthorized: the token has no '${idp.claims.subject}' claim naming the user; the gateway reads it as ${configPath}.claims.subject`, 'invalid_token', credentialId);
  }
  const roles = mapRoles(idp, claims);
  if (!roles) {
    throw new AuthenticationError(
      `Unauthorized: none of the token's '${idp.claims.roles}' values maps to a warden role; ask for a group that ${configPath}.roles maps, or map this one`,
      'invalid_token', credentialId,
    );
  }
  const tenant = idp.claims.tenant ? claimAt(claims, idp.claims.tenant) : undefined;
  const clientId = [claims.client_id, claims.azp, claims.cid].find((c): c is string => typeof c === 'string' && c !== '');
  const actor = actorOf(claims.act, idp.issuer);
  return {
    subject,
    ...(typeof tenant === 'string' && tenant ? { tenant } : {}),
    ...(clientId ? { clientId } : {}),
    issuer: idp.issuer,
    credential: { kind: 'jwt', id: credentialId },
    scopes: stringsOf(claimAt(claims, idp.claims.scopes)),
    roles,
    ...(actor ? { actor } : {}),
  };
}

/**
 * RFC 8693 §4.1 `act`: who acts for the subject, nested for a chain. Identity only: an actor's scopes grant
 * nothing. Its `roles` are taken only where warden wrote them (`wardenRoles`: its own tokens, or an IdP's
 * roles already mapped); an IdP's raw `act` is not a list of warden roles.
 */
export function actorOf(act: unknown, issuer: string | undefined, wardenRoles = false, depth = 0): Principal | undefined {
  if (act === null || typeof act !== 'object' || Array.isArray(act) || depth > 8) return undefined;
  const { sub, client_id: clientId, tenant, iss, roles, act: inner } = act as Record<string, unknown>;
  if (typeof sub !== 'string' || sub === '') return undefined;
  const nested = actorOf(inner, issuer, wardenRoles, depth + 1);
  const actorIssuer = typeof iss === 'string' ? iss : issuer;
  return {
    subject: sub,
    ...(typeof tenant === 'string' ? { tenant } : {}),
    ...(typeof clientId === 'string' ? { clientId } : {}),
    ...(actorIssuer ? { issuer: actorIssuer } : {}),
    credential: { kind: 'jwt', id: '-' },
    scopes: [],
    // For policies, never for scopes.
    roles: wardenRoles ? rolesClaim(roles) : [],
    ...(nested ? { actor: nested } : {}),
  };
}

/** A `roles` claim the gateway wrote (an array of role names); anything else is no roles. */
export function rolesClaim(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((r): r is string => typeof r === 'string' && r !== '') : [];
}
