import { decodeJwt } from 'jose';
import type { Principal } from '../shared/principal.js';
import type { BearerVerifier, RequestContext } from './authenticator.js';
import { AuthenticationError } from './errors.js';
import { credentialIdOf, principalFromClaims } from './idp-claims.js';
import { certificateConfirmation } from './certificate-binding.js';
import type { TrustedIssuer } from './trusted-issuer.js';
import type { DpopVerifier } from './dpop.js';

/**
 * Access tokens of company IdPs (`auth.jwt.issuers` with `use: [access-token]`) in the verifier chain: a JWT
 * goes to the issuer its `iss` names (read without trusting it; the signature check then pins it), an opaque
 * token to the IdPs that introspect. Audience: the issuer's configured `audiences`, else the resource URL of
 * the upstream called, so a token for one upstream is refused at another.
 */

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** Verified tokens remembered, so a client's repeated calls skip the signature check; bounded, oldest out first. */
const VERIFIED_CACHE_MAX = 4096;

export interface IdpTokenVerifierOptions {
  /** Also claim JWTs from issuers not configured, to refuse them by name (when no other verifier takes JWTs). */
  claimEveryJwt: boolean;
  /**
   * Checks the proofs of IdP tokens bound to a key (RFC 9449 `cnf.jkt`), on every request; bearer IdP tokens
   * are taken as before. Without it, a DPoP-bound IdP token is refused.
   */
  dpop?: DpopVerifier | undefined;
  now?: () => number;
}

export class IdpTokenVerifier implements BearerVerifier {
  readonly kind = 'jwt' as const;
  readonly describes = "an access token of the company's IdP";
  readonly dpop: boolean;
  private readonly byIssuer: Map<string, TrustedIssuer>;
  private readonly introspecting: TrustedIssuer[];
  private readonly now: () => number;
  private readonly verified = new Map<string, { principal: Principal; validUntil: number }>();

  constructor(issuers: readonly TrustedIssuer[], private readonly options: IdpTokenVerifierOptions) {
    this.byIssuer = new Map(issuers.map((i) => [i.issuer, i]));
    this.introspecting = issuers.filter((i) => i.introspection);
    this.now = options.now ?? Date.now;
    this.dpop = options.dpop !== undefined;
  }

  accepts(token: string): boolean {
    if (!JWT_SHAPE.test(token)) return this.introspecting.length > 0;
    if (this.options.claimEveryJwt) return true;
    return this.byIssuer.has(issuerOf(token) ?? '');
  }

  async verify(token: string, context: RequestContext): Promise<Principal> {
    const principal = await this.verifiedPrincipal(token, context);
    // The proof is per request: checked after the (remembered) token, so that only a valid token spends room in
    // the replay cache. A bound token sent as Bearer, or an unbound one sent as DPoP, is refused there.
    if (this.options.dpop) {
      const jkt = principal.confirmation?.jkt;
      await this.options.dpop.confirm({ jti: principal.credential.id, ...(jkt ? { cnf: { jkt } } : {}) }, token, context.presentation);
    }
    return principal;
  }

  private async verifiedPrincipal(token: string, context: RequestContext): Promise<Principal> {
    const cacheKey = `${context.audiences.join(' ')}\n${token}`;
    const hit = this.verified.get(cacheKey);
    if (hit && this.now() < hit.validUntil) return hit.principal;
    if (hit) this.verified.delete(cacheKey);
    const { principal, validUntil } = JWT_SHAPE.test(token) ? await this.verifyJwt(token, context) : await this.verifyOpaque(token, context);
    if (this.verified.size >= VERIFIED_CACHE_MAX) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(cacheKey, { principal, validUntil });
    return principal;
  }

  private async verifyJwt(token: string, context: RequestContext): Promise<{ principal: Principal; validUntil: number }> {
    const iss = issuerOf(token);
    const idp = iss === undefined ? undefined : this.byIssuer.get(iss);
    if (!idp) throw new AuthenticationError('Unauthorized: the token was issued by an issuer this gateway does not trust (auth.jwt.issuers)', 'invalid_token');
    const claims = await idp.verifyJwt(token, 'access-token', idp.config.audiences ?? context.audiences, this.now());
    const principal = this.bound(principalFromClaims({ idp: idp.config, configPath: idp.configPath, claims, credentialId: credentialIdOf(claims, token) }), claims);
    return { principal, validUntil: (claims.exp! * 1000) + idp.config.clockTolerance };
  }

  /**
   * What a token is bound to (in the JWT, or in the introspection answer): a certificate (RFC 8705 §3.2; the
   * authenticator checks it) or, with a DPoP verifier, a key (RFC 9449; verify() checks the proof).
   */
  private bound(principal: Principal, claims: Record<string, unknown>): Principal {
    const certificate = certificateConfirmation(claims.cnf, principal.credential.id, { dpop: this.dpop });
    const jkt = this.dpop ? (claims.cnf as { jkt?: unknown } | undefined)?.jkt : undefined;
    if (jkt !== undefined && (typeof jkt !== 'string' || jkt === '')) throw new AuthenticationError('Unauthorized: the token names no usable key (cnf.jkt)', 'invalid_token', principal.credential.id);
    return certificate || jkt ? { ...principal, confirmation: { ...certificate, ...(jkt ? { jkt } : {}) } } : principal;
  }

  private async verifyOpaque(token: string, context: RequestContext): Promise<{ principal: Principal; validUntil: number }> {
    for (const idp of this.introspecting) {
      const answer = await idp.introspect(token, idp.config.audiences ?? context.audiences, this.now());
      if (!answer) continue;
      // RFC 7662 makes sub optional; a client-credentials token's subject is its client (as RFC 9068 §2.2 says for JWTs).
      const claims = answer.sub === undefined && typeof answer.client_id === 'string' ? { ...answer, sub: answer.client_id } : answer;
      const principal = this.bound(principalFromClaims({ idp: idp.config, configPath: idp.configPath, claims, credentialId: credentialIdOf(claims, token) }), claims);
      // Remembered no longer than the introspection cache would: a revocation at the IdP shows within cacheTtl.
      const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : Infinity;
      return { principal, validUntil: Math.min(exp, this.now() + idp.config.introspection!.cacheTtl) };
    }
    throw new AuthenticationError('Unauthorized: the token is not active at any trusted IdP (expired, revoked, or not a token)', 'invalid_token');
  }
}


/** The unverified `iss`, only to choose whose keys to check the signature with. */
function issuerOf(token: string): string | undefined {
  try {
    const { iss } = decodeJwt(token);
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}
