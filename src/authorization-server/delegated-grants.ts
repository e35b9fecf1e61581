import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { decodeJwt, type JWTPayload } from 'jose';
import type { AuthorizationConfig, IdpUse, OAuthConfig } from '../config/index.js';
import type { Principal } from '../shared/principal.js';
import type { CompanyIdp, CompanyIdps } from './company-idp.js';
import type { ResourceCatalog } from './resources.js';
import { resourceServerInfo } from './provider.js';
import { MemoryReplayCache, type ReplayCache } from '../store/replay-cache.js';
import { bindDelegatedToken } from './dpop.js';

/**
 * Grants that turn a company IdP's word into a gateway token for one upstream, registered on oidc-provider
 * (`registerGrantType`: its token endpoint, client authentication, resource indicators and JWT access tokens
 * do the rest):
 * - RFC 8693 token exchange: an IdP access or ID token (`subject_token`), optionally an `actor_token` (an
 *   agent acting for the user, which becomes `act`), and `resource`/`audience` naming one upstream.
 * - The Identity Assertion JWT Authorization Grant (draft-ietf-oauth-identity-assertion-authz-grant, MCP
 *   enterprise-managed authorization): RFC 7523 jwt-bearer with an ID-JAG (`typ: oauth-id-jag+jwt`) whose
 *   `aud` is this issuer and whose `client_id` is the client presenting it; its `jti` is used once.
 * Scopes are those of the upstream that the user's mapped roles grant, cut to what was asked for. Which
 * clients may use either grant is configuration; public clients never may.
 */

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:';
type TokenKind = Parameters<CompanyIdp['verifyJwt']>[1];
const SUBJECT_KINDS: Record<string, TokenKind> = {
  [`${TOKEN_TYPE}access_token`]: 'access-token',
  [`${TOKEN_TYPE}jwt`]: 'access-token',
  [`${TOKEN_TYPE}id_token`]: 'id-token',
};

/** What a delegated token carries besides oidc-provider's claims; provider.ts's extraTokenClaims adds it. */
export interface DelegatedClaims {
  sub_iss: string;
  tenant?: string;
  /** The subject's mapped roles: the scopes were cut to them here; policies see them at the gateway. */
  roles: string[];
  act?: Record<string, unknown>;
}

export interface DelegationParts {
  /** The gateway's issuer: the default audience of subject tokens, and the audience of every ID-JAG. */
  issuer: string;
  issuers: CompanyIdps;
  oauth: OAuthConfig;
  roles: AuthorizationConfig['roles'];
  resources: ResourceCatalog;
  /** RFC 8705: the request's certificate, which the tokens of a certificate-bound client are bound to. */
  certificate?: ((ctx: KoaContextWithOIDC) => string | undefined) | undefined;
  /** ID-JAG ids being redeemed, shared by all instances with Redis (default: this process's). */
  replay?: ReplayCache | undefined;
}

export function registerDelegatedGrants(provider: Provider, parts: DelegationParts): void {
  const allowed = new Map<string, ReadonlySet<string>>([
    [TOKEN_EXCHANGE, new Set(parts.oauth.tokenExchange?.clients ?? [])],
    [JWT_BEARER, new Set(parts.oauth.idJag?.clients ?? [])],
  ]);
  // Which clients may exchange is configuration, not client metadata: no registration can claim these grants.
  const proto = provider.Client.prototype as unknown as { grantTypeAllowed(type: string): boolean; clientId: string; clientAuthMethod: string };
  const own = proto.grantTypeAllowed;
  proto.grantTypeAllowed = function grantTypeAllowed(type: string): boolean {
    const clients = allowed.get(type);
    if (!clients) return own.call(this, type);
    return this.clientAuthMethod !== 'none' && clients.has(this.clientId);
  };
  const issue = issuer(provider, parts);
  if (parts.oauth.tokenExchange) {
    provider.registerGrantType(TOKEN_EXCHANGE, (async (ctx: KoaContextWithOIDC) => {
      const { params } = ctx.oidc as unknown as { params: Record<string, string | undefined> };
      const kind = SUBJECT_KINDS[params.subject_token_type ?? ''];
      if (!params.subject_token || !kind) throw invalidRequest(`subject_token and a subject_token_type of ${Object.keys(SUBJECT_KINDS).join(', ')} are required`);
      if (params.requested_token_type && params.requested_token_type !== `${TOKEN_TYPE}access_token`) throw invalidRequest('only access tokens are issued (requested_token_type)');
      const subject = await verify(parts, params.subject_token, kind, 'token-exchange', 'subject_token');
      let actor: Principal | undefined;
      if (params.actor_token) {
        const actorKind = SUBJECT_KINDS[params.actor_token_type ?? ''];
        if (!actorKind) throw invalidRequest(`actor_token needs an actor_token_type of ${Object.keys(SUBJECT_KINDS).join(', ')}`);
        actor = (await verify(parts, params.actor_token, actorKind, 'token-exchange', 'actor_token', true)).principal;
      }
      // The new actor on top of any the subject token already names (a chain of agents).
      const chain = actor ? { ...actor, ...(subject.principal.actor ? { actor: subject.principal.actor } : {}) } : subject.principal.actor;
      await issue(ctx, { ...subject, actor: chain, target: target(parts, params.resource, params.audience), requested: params.scope, exchanged: true });
    }) as never, ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type', 'resource', 'audience', 'scope']);
  }
  if (parts.oauth.idJag) {
    const inFlight = parts.replay ?? new MemoryReplayCache();
    provider.registerGrantType(JWT_BEARER, (async (ctx: KoaContextWithOIDC) => {
      const { params, client } = ctx.oidc as unknown as { params: Record<string, string | undefined>; client: { clientId: string } };
      if (!params.assertion) throw invalidRequest('assertion (the ID-JAG) is required');
      const grant = await verify(parts, params.assertion, 'id-jag', 'id-jag', 'assertion');
      const { claims } = grant;
      if (claims.client_id !== client.clientId) throw invalidGrant('the ID-JAG was issued to another client (client_id)');
      if (typeof claims.jti !== 'string' || !claims.jti) throw invalidGrant('the ID-JAG has no jti');
      const resource = typeof claims.resource === 'string' ? claims.resource : undefined;
      if (resource && params.resource && params.resource !== resource) throw new errors.InvalidTarget('the resource parameter differs from the ID-JAG\'s resource');
      // Checked after the signature, so nobody can use up a jti they could not sign. The store remembers it
      // until the ID-JAG expires; the replay cache (SET NX in Redis with several instances) covers two
      // requests racing between the store's read and write, on one instance or on two.
      const key = JSON.stringify([grant.idp.issuer, claims.jti]);
      const replayed = () => invalidGrant('this ID-JAG was already used (jti); ask the IdP for a new one');
      let first: boolean;
      try {
        first = !(await inFlight.seen(key, claims.exp! * 1000));
      } catch {
        throw new errors.TemporarilyUnavailable('the ID-JAG cannot be checked for reuse right now (shared state unavailable); retry shortly');
      }
      if (!first) throw replayed();
      if (!(await provider.ReplayDetection.unique(grant.idp.issuer, claims.jti, claims.exp!))) throw replayed();
      // The IdP's scope is a ceiling: a client may ask for less, never for more.
      const allowedByIdp = typeof claims.scope === 'string' ? claims.scope.split(' ') : undefined;
      const asked = params.scope?.split(' ') ?? allowedByIdp;
      const within = asked && allowedByIdp ? asked.filter((s) => allowedByIdp.includes(s)) : asked;
      if (within?.length === 0) throw new errors.InvalidScope('the ID-JAG does not grant the requested scope', params.scope ?? '');
      const requested = within?.join(' ');
      await issue(ctx, { ...grant, actor: grant.principal.actor, target: target(parts, resource ?? params.resource, undefined), requested, exchanged: false });
    }) as never, ['assertion', 'resource', 'scope']);
  }
}

interface Verified {
  idp: CompanyIdp;
  claims: JWTPayload;
  principal: Principal;
}

/** A token of an IdP trusted for `use`, checked in full; its principal (roles mapped). Refusals are invalid_grant saying which check failed. */
async function verify(parts: DelegationParts, token: string, kind: TokenKind, use: IdpUse, name: string, asActor = false): Promise<Verified> {
  let iss: unknown;
  try {
    iss = decodeJwt(token).iss;
  } catch {
    throw invalidGrant(`${name} is not a JWT`);
  }
  const idp = parts.issuers.using(use).find((i) => i.issuer === iss);
  if (!idp) throw invalidGrant(`${name} was not issued by an IdP trusted for ${use}`);
  try {
    const audiences = kind === 'id-jag' ? [parts.issuer] : idp.config.audiences ?? [parts.issuer];
    const claims = await idp.verifyJwt(token, kind, audiences);
    // An actor is named, not authorized: its roles grant nothing, so they need not map to any.
    const principal = asActor ? idp.actorOf(claims) : idp.principalOf(claims, token);
    if (!principal) throw invalidGrant(`${name} names no subject (${idp.config.claims.subject})`);
    return { idp, claims, principal };
  } catch (err) {
    if (err instanceof Error && 'error' in err && (err as { error?: string }).error === 'invalid_token') {
      throw invalidGrant(`${name}: ${err.message.replace(/^Unauthorized: /, '')}`);
    }
    throw err;
  }
}

/** `resource` (RFC 8707) or `audience` (RFC 8693: a resource URL or an upstream's name): exactly one upstream. */
function target(parts: DelegationParts, resource: string | undefined, audience: string | undefined): string {
  const named = resource ?? (audience && (parts.resources.get(audience)?.url ?? parts.resources.urlsOf(audience)[0]));
  if (!named) throw new errors.InvalidTarget(`name one upstream with resource (one of ${parts.resources.urls().join(', ')})`);
  return named;
}

interface Issue extends Verified {
  actor: Principal | undefined;
  target: string;
  requested: string | undefined;
  /** Token exchange answers with issued_token_type and never outlives the subject token. */
  exchanged: boolean;
}

function issuer(provider: Provider, parts: DelegationParts) {
  return async (ctx: KoaContextWithOIDC, grant: Issue): Promise<void> => {
    const oidc = ctx.oidc as unknown as { client: unknown; entity(name: string, value: unknown): void };
    // The same resource server (audience, scopes, lifetime, format) the other grants get for this URL.
    const info = resourceServerInfo(parts.resources, parts.oauth, grant.target);
    const offered = info.scope.split(' ').filter(Boolean);
    const byRoles = new Set(grant.principal.roles.flatMap((r) => (Object.hasOwn(parts.roles, r) ? parts.roles[r]! : [])));
    const requested = grant.requested ? grant.requested.split(' ').filter(Boolean) : offered;
    const scopes = requested.filter((s) => offered.includes(s) && byRoles.has(s));
    if (scopes.length === 0) {
      throw new errors.InvalidScope(`the user's roles (${grant.principal.roles.join(', ') || 'none'}) grant none of the requested scopes on this upstream`, requested.join(' '));
    }
    if (grant.exchanged && typeof grant.claims.exp === 'number') {
      // Rounded up: the token's iat is taken when it is saved, which may be in the next second.
      info.accessTokenTTL = Math.max(1, Math.min(info.accessTokenTTL, grant.claims.exp - Math.ceil(Date.now() / 1000)));
    }
    const delegated: DelegatedClaims = {
      sub_iss: grant.idp.issuer,
      ...(grant.principal.tenant ? { tenant: grant.principal.tenant } : {}),
      roles: grant.principal.roles,
      ...(grant.actor ? { act: actClaim(grant.actor) } : {}),
    };
    ctx.state.delegated = delegated;
    // No grant: nothing here can be refreshed, and the subject's IdP decides again at the next exchange.
    const token = new provider.AccessToken({ accountId: grant.principal.subject, client: oidc.client, scope: scopes.join(' '), gty: grant.exchanged ? TOKEN_EXCHANGE : JWT_BEARER } as never);
    (token as unknown as { resourceServer: unknown }).resourceServer = new provider.ResourceServer(grant.target, info as never);
    // As oidc-provider's own grants do (checkMtlsCert): a client whose tokens are certificate-bound gets none without it.
    if ((oidc.client as { tlsClientCertificateBoundAccessTokens?: boolean }).tlsClientCertificateBoundAccessTokens) {
      const certificate = parts.certificate?.(ctx);
      if (!certificate) throw invalidGrant('mutual TLS client certificate not provided');
      (token as unknown as { setThumbprint(kind: 'x5t', cert: string): void }).setThumbprint('x5t', certificate);
    }
    // RFC 9449: a token request with a proof gets a token bound to its key (under `required` every request has one).
    if (parts.oauth.dpop.mode !== 'off') await bindDelegatedToken(provider, ctx, token as unknown as { setThumbprint(kind: 'jkt', value: string): void });
    oidc.entity('AccessToken', token);
    const value = await token.save();
    ctx.set('cache-control', 'no-store');
    ctx.body = {
      access_token: value,
      ...(grant.exchanged ? { issued_token_type: `${TOKEN_TYPE}access_token` } : {}),
      token_type: (token as unknown as { tokenType: string }).tokenType,
      expires_in: token.expiration,
      scope: token.scope,
    };
  };
}

/** RFC 8693 §4.1: the current actor on top, with the actors before it nested. */
function actClaim(actor: Principal): Record<string, unknown> {
  return {
    sub: actor.subject,
    ...(actor.issuer ? { iss: actor.issuer } : {}),
    ...(actor.clientId ? { client_id: actor.clientId } : {}),
    ...(actor.roles.length > 0 ? { roles: actor.roles } : {}),
    ...(actor.actor ? { act: actClaim(actor.actor) } : {}),
  };
}

function invalidGrant(description: string): Error {
  return new errors.CustomOIDCProviderError('invalid_grant', description);
}

function invalidRequest(description: string): Error {
  return new errors.InvalidRequest(description);
}
