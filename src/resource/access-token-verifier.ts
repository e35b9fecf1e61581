import { createLocalJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import type { RevocationEntry, RevocationStore } from '../store/index.js';
import type { Principal } from '../shared/principal.js';
import type { BearerVerifier, RequestContext } from './authenticator.js';
import { AuthenticationError } from './errors.js';
import { actorOf, rolesClaim } from './idp-claims.js';
import type { DpopVerifier } from './dpop.js';
import { certificateConfirmation } from './certificate-binding.js';

/**
 * Access tokens of the embedded authorization server: RFC 9068 JWTs (`typ: at+jwt`, ES256), verified with
 * jose against the issuer's keys, then against the revocation list, because a signature stays valid after
 * its grant, user or client was revoked. Only the algorithm the issuer signs with is accepted, so `none`,
 * HS256 keyed with the public key and other algorithm confusions fail before any key is used.
 */

export interface AccessTokenVerifierOptions {
  /** The issuer's URL. */
  issuer: string;
  /** Public JWKs of the issuer, current and recently retired. */
  keys(): Record<string, unknown>[];
  /** Re-reads the keys (a rotation in another process); called when a token names an unknown kid. */
  reloadKeys(): Promise<void>;
  revocations: RevocationStore;
  /** DPoP proofs for tokens bound with `cnf.jkt` (dpop.ts); absent: such tokens are refused. */
  dpop?: DpopVerifier;
  now?: () => number;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** An unknown kid triggers at most one key reload per this interval, so junk tokens cannot hammer the store. */
const RELOAD_THROTTLE_MS = 5_000;
const CLOCK_TOLERANCE_S = 5;
/** Verified tokens remembered, so a client's repeated calls skip the signature check (the revocation check still runs). */
const VERIFIED_CACHE_MAX = 4096;

export class AccessTokenVerifier implements BearerVerifier {
  readonly kind = 'oauth' as const;
  readonly describes = 'an OAuth access token';
  readonly dpop: boolean;
  private keySet: ReturnType<typeof createLocalJWKSet> | undefined;
  private keysFor: Record<string, unknown>[] | undefined;
  private lastReload = 0;
  private readonly now: () => number;
  /**
   * Keyed by the audiences checked and the token: an entry is a token jose verified in full for exactly those
   * audiences, so a hit needs only the clock checked again. Map order is insertion order: the oldest goes first.
   */
  private readonly verified = new Map<string, { claims: JWTPayload; validUntil: number }>();

  constructor(private readonly options: AccessTokenVerifierOptions) {
    this.now = options.now ?? Date.now;
    this.dpop = options.dpop !== undefined && options.dpop.mode !== 'off';
  }

  accepts(token: string): boolean {
    return JWT_SHAPE.test(token);
  }

  async verify(token: string, context: RequestContext): Promise<Principal> {
    const claims = await this.check(token, context.audiences);
    // After the token checked out, so that only a valid token spends room in the proof replay cache.
    const jkt = this.options.dpop ? await this.options.dpop.confirm(claims, token, context.presentation) : undefined;
    const actor = actorOf(claims.act, undefined, true);
    // RFC 8705: checked against the request's certificate by the authenticator, which has the connection.
    const certificate = certificateConfirmation(claims.cnf, String(claims.jti), { dpop: this.options.dpop !== undefined });
    return {
      subject: String(claims.sub),
      ...(typeof claims.tenant === 'string' ? { tenant: claims.tenant } : {}),
      clientId: String(claims.client_id),
      // Token exchange and ID-JAG: the company IdP that vouched for the subject, and who acts for them.
      ...(typeof claims.sub_iss === 'string' ? { issuer: claims.sub_iss } : {}),
      ...(actor ? { actor } : {}),
      ...(certificate || jkt ? { confirmation: { ...certificate, ...(jkt ? { jkt } : {}) } } : {}),
      credential: { kind: 'oauth', id: String(claims.jti) },
      scopes: typeof claims.scope === 'string' && claims.scope ? claims.scope.split(' ') : [],
      // For policies only: the scopes were cut to these roles when the token was issued.
      roles: rolesClaim(claims.roles),
      scopesCutToRoles: true,
    };
  }

  /** The verified claims, for introspection: undefined instead of an error. */
  async introspect(token: string): Promise<JWTPayload | undefined> {
    if (!this.accepts(token)) return undefined;
    try {
      return await this.check(token, undefined);
    } catch {
      return undefined;
    }
  }

  private async check(token: string, audiences: readonly string[] | undefined): Promise<JWTPayload> {
    const cacheKey = `${audiences?.join(' ') ?? '*'}\n${token}`;
    const hit = this.verified.get(cacheKey);
    let claims: JWTPayload;
    if (hit && this.now() < hit.validUntil) {
      claims = hit.claims;
    } else {
      if (hit) this.verified.delete(cacheKey);
      claims = await this.verifyOrRefuse(token, audiences);
      if (this.verified.size >= VERIFIED_CACHE_MAX) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(cacheKey, { claims, validUntil: (claims.exp! + CLOCK_TOLERANCE_S) * 1000 });
    }
    // Sender-constrained tokens need their proof: `jkt` is checked in verify() (dpop.ts), `x5t#S256` by the
    // authenticator (certificate-binding.ts); any other confirmation is refused, never treated as bearer.
    certificateConfirmation(claims.cnf, String(claims.jti), { dpop: this.options.dpop !== undefined });
    const iat = typeof claims.iat === 'number' ? claims.iat * 1000 : 0;
    const entries: RevocationEntry[] = [{ kind: 'jti', value: String(claims.jti) }, { kind: 'client', value: String(claims.client_id) }];
    if (typeof claims.sub === 'string') entries.push({ kind: 'user', value: claims.sub });
    if (typeof claims.grant_id === 'string') entries.push({ kind: 'grant', value: claims.grant_id });
    if (await this.options.revocations.anyRevoked(entries, iat)) {
      throw new AuthenticationError('Unauthorized: the access token was revoked; sign in again', 'invalid_token', String(claims.jti));
    }
    return claims;
  }

  private async verifyOrRefuse(token: string, audiences: readonly string[] | undefined): Promise<JWTPayload> {
    let claims: JWTPayload;
    try {
      claims = await this.verifySignature(token, audiences);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey && this.now() - this.lastReload > RELOAD_THROTTLE_MS) {
        this.lastReload = this.now();
        await this.options.reloadKeys();
        try {
          claims = await this.verifySignature(token, audiences);
        } catch (retryErr) {
          throw refusal(retryErr);
        }
      } else {
        throw refusal(err);
      }
    }
    return claims;
  }

  private async verifySignature(token: string, audiences: readonly string[] | undefined): Promise<JWTPayload> {
    const { payload } = await jwtVerify(token, this.currentKeySet(), {
      issuer: this.options.issuer,
      typ: 'at+jwt',
      algorithms: ['ES256'],
      ...(audiences ? { audience: [...audiences] } : {}),
      requiredClaims: ['exp', 'iat', 'sub', 'client_id', 'jti'],
      clockTolerance: CLOCK_TOLERANCE_S,
      currentDate: new Date(this.now()),
    });
    return payload;
  }

  private currentKeySet(): ReturnType<typeof createLocalJWKSet> {
    const keys = this.options.keys();
    if (keys !== this.keysFor || !this.keySet) {
      this.keySet = createLocalJWKSet({ keys } as JSONWebKeySet);
      this.keysFor = keys;
    }
    return this.keySet;
  }
}

/** What the caller is told: which check failed, in words, never the token. */
function refusal(err: unknown): AuthenticationError {
  if (err instanceof AuthenticationError) return err;
  let message = 'Unauthorized: the access token is not valid';
  if (err instanceof errors.JWTExpired) message = 'Unauthorized: the access token has expired; refresh it or sign in again';
  else if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'aud') {
    message = 'Unauthorized: the access token was issued for another resource; request a token for this endpoint (RFC 8707 resource parameter)';
  } else if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'iss') message = 'Unauthorized: the access token was issued by another authorization server';
  else if (err instanceof errors.JWKSNoMatchingKey) message = 'Unauthorized: the access token was signed with a key this gateway does not know';
  else if (err instanceof errors.JOSEAlgNotAllowed) message = 'Unauthorized: the access token uses an algorithm this gateway does not accept';
  else if (!(err instanceof errors.JOSEError)) throw err;
  return new AuthenticationError(message, 'invalid_token');
}
