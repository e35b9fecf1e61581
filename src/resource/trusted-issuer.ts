import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import type { JwtIssuerConfig } from '../config/index.js';
import { AuthenticationError } from './errors.js';
import { discoverIssuer, type IssuerMetadata } from './issuer-discovery.js';
import { IdpKeys, type KeyHealth } from './idp-keys.js';
import { IntrospectionClient, IntrospectionUnavailable } from './introspection.js';
import { actorOf, claimAt, credentialIdOf, mapRoles, principalFromClaims } from './idp-claims.js';
import type { Principal } from '../shared/principal.js';

/**
 * One company IdP the gateway trusts (`auth.jwt.issuers[n]`): its discovered metadata, its keys and its
 * introspection endpoint, and the checks every token from it passes whatever it is used for — issuer pinned
 * exactly, asymmetric algorithms only, exp/nbf/iat with the configured skew, audience, explicit type.
 */

/** What a token is presented as; each has its own `typ` rule (RFC 8725 §3.11: explicit typing). */
export type IdpTokenKind = 'access-token' | 'id-token' | 'id-jag';

const ACCESS_TOKEN_TYPES = new Set(['at+jwt', 'application/at+jwt', 'jwt']);
export const ID_JAG_TYPE = 'oauth-id-jag+jwt';
/** Claims only ID tokens carry (OIDC Core §3.1.3.6, §3.3.2.11), and Keycloak's own marker. */
const ID_TOKEN_CLAIMS = ['at_hash', 'c_hash', 's_hash', 'nonce'];

export interface IssuerStatus extends KeyHealth {
  issuer: string;
  discovery?: string;
}

export class TrustedIssuer {
  private constructor(
    readonly config: JwtIssuerConfig,
    /** auth.jwt.issuers[n], for messages. */
    readonly configPath: string,
    readonly metadata: IssuerMetadata | undefined,
    readonly keys: IdpKeys,
    readonly introspection: IntrospectionClient | undefined,
  ) {}

  get issuer(): string {
    return this.config.issuer;
  }

  uses(use: JwtIssuerConfig['use'][number]): boolean {
    return this.config.use.includes(use);
  }

  /**
   * Discovery first (unless every URL is configured), then a first fetch of the keys. A discovery failure
   * stops start-up with an error naming the setting; keys that cannot be fetched yet only show in /readyz.
   */
  static async open(config: JwtIssuerConfig, index: number): Promise<TrustedIssuer> {
    const configPath = `auth.jwt.issuers[${index}]`;
    const needsDiscovery = !config.jwksUri || (config.introspection && !config.introspection.url) || config.use.includes('sso');
    let metadata: IssuerMetadata | undefined;
    if (needsDiscovery) {
      try {
        metadata = await discoverIssuer(config.issuer);
      } catch (err) {
        throw new IssuerSetupError(`${configPath}.issuer: ${(err as Error).message}; check the URL, or set ${configPath}.jwksUri to skip discovery`);
      }
    }
    const jwksUri = config.jwksUri ?? metadata?.jwks_uri;
    if (!jwksUri) throw new IssuerSetupError(`${configPath}: ${config.issuer} publishes no jwks_uri in ${metadata?.source}; set ${configPath}.jwksUri`);
    let introspection: IntrospectionClient | undefined;
    if (config.introspection) {
      const url = config.introspection.url ?? metadata?.introspection_endpoint;
      if (!url) throw new IssuerSetupError(`${configPath}.introspection: ${config.issuer} publishes no introspection_endpoint; set ${configPath}.introspection.url`);
      introspection = new IntrospectionClient({ url, clientId: config.introspection.clientId, clientSecret: config.introspection.clientSecret, cacheTtlMs: config.introspection.cacheTtl });
    }
    const issuer = new TrustedIssuer(config, configPath, metadata, new IdpKeys(jwksUri, { cooldownMs: config.jwksCooldown }), introspection);
    await issuer.keys.refresh();
    return issuer;
  }

  status(): IssuerStatus {
    return { issuer: this.issuer, ...(this.metadata ? { discovery: this.metadata.source } : {}), ...this.keys.health() };
  }

  /** A JWT from this IdP, checked in full for `kind` and one of `audiences`; its claims, or an AuthenticationError saying which check failed. */
  async verifyJwt(token: string, kind: IdpTokenKind, audiences: readonly string[], now = Date.now()): Promise<JWTPayload> {
    checkType(token, kind);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys.getKey, {
        issuer: this.issuer,
        audience: [...audiences],
        algorithms: this.config.algorithms,
        requiredClaims: ['exp'],
        clockTolerance: this.config.clockTolerance / 1000,
        currentDate: new Date(now),
      }));
    } catch (err) {
      if (kind === 'access-token' && err instanceof errors.JWTClaimValidationFailed && err.claim === 'aud' && looksLikeIdToken(err.payload)) throw idTokenRefusal();
      throw refusal(err, this.issuer);
    }
    if (typeof payload.iat === 'number' && payload.iat * 1000 > now + this.config.clockTolerance) {
      throw new AuthenticationError('Unauthorized: the token says it was issued in the future; check the clocks of the IdP and the gateway', 'invalid_token');
    }
    if (kind === 'access-token' && looksLikeIdToken(payload)) throw idTokenRefusal();
    return payload;
  }

  /** The principal a verified token of this IdP names (roles mapped; refused when a mapping maps nothing). */
  principalOf(claims: Record<string, unknown>, token: string): Principal {
    return principalFromClaims({ idp: this.config, configPath: this.configPath, claims, credentialId: credentialIdOf(claims, token) });
  }

  /**
   * The same token's subject as an actor (RFC 8693 `act`): named, not authorized, so its roles need not map.
   * Those that do map are kept for policies (Cedar's "an agent gets at most what its user has").
   */
  actorOf(claims: Record<string, unknown>): Principal | undefined {
    const roles = mapRoles(this.config, claims) ?? [];
    return actorOf({ sub: claimAt(claims, this.config.claims.subject), client_id: claims.client_id ?? claims.azp, iss: this.issuer, roles }, this.issuer, true);
  }

  /** The raw subject claim, for records of a refusal. */
  subjectOf(claims: Record<string, unknown>): unknown {
    return claimAt(claims, this.config.claims.subject);
  }

  /** An opaque token, asked of the IdP (RFC 7662); its claims when active for one of `audiences`. */
  async introspect(token: string, audiences: readonly string[], now = Date.now()): Promise<Record<string, unknown> | undefined> {
    if (!this.introspection) return undefined;
    let answer;
    try {
      answer = await this.introspection.introspect(token);
    } catch (err) {
      if (!(err instanceof IntrospectionUnavailable)) throw err;
      throw new AuthenticationError(`Unauthorized: the token could not be checked with its IdP (${err.message})`, 'invalid_token');
    }
    if (!answer.active) return undefined;
    if (answer.iss !== undefined && answer.iss !== this.issuer) return undefined;
    const tolerance = this.config.clockTolerance;
    if (typeof answer.exp === 'number' && answer.exp * 1000 + tolerance <= now) return undefined;
    if (typeof answer.nbf === 'number' && answer.nbf * 1000 - tolerance > now) return undefined;
    if (answer.token_type !== undefined && !/^(access_token|bearer)$/i.test(String(answer.token_type))) return undefined;
    const aud = typeof answer.aud === 'string' ? [answer.aud] : Array.isArray(answer.aud) ? answer.aud : [];
    if (!aud.some((a) => audiences.includes(a as string))) {
      throw new AuthenticationError('Unauthorized: the access token was issued for another resource (its introspection names another audience, or none)', 'invalid_token');
    }
    return answer;
  }
}

export class IssuerSetupError extends Error {
  readonly code = 'idp_setup_failed';
  constructor(message: string) {
    super(message);
    this.name = 'IssuerSetupError';
  }
}

function checkType(token: string, kind: IdpTokenKind): void {
  let typ: unknown;
  try {
    typ = decodeProtectedHeader(token).typ;
  } catch {
    throw new AuthenticationError('Unauthorized: the token is not a well-formed JWT', 'invalid_token');
  }
  const type = typeof typ === 'string' ? typ.toLowerCase() : undefined;
  const fits = kind === 'id-jag' ? type === ID_JAG_TYPE
    : kind === 'id-token' ? type === undefined || type === 'jwt'
    : type === undefined || ACCESS_TOKEN_TYPES.has(type);
  if (!fits) {
    const wanted = kind === 'id-jag' ? `typ: ${ID_JAG_TYPE}` : kind === 'id-token' ? 'an ID token' : 'an access token (typ at+jwt or JWT)';
    throw new AuthenticationError(`Unauthorized: the token's type (typ: ${String(typ).slice(0, 40)}) is not ${wanted}`, 'invalid_token');
  }
}

function looksLikeIdToken(payload: unknown): boolean {
  if (payload === null || typeof payload !== 'object') return false;
  const p = payload as Record<string, unknown>;
  return p.typ === 'ID' || ID_TOKEN_CLAIMS.some((c) => p[c] !== undefined);
}

function idTokenRefusal(): AuthenticationError {
  return new AuthenticationError('Unauthorized: this is an ID token, which says who signed in to an app; send an access token issued for this resource', 'invalid_token');
}

/** Which check failed, in words; never the token. */
function refusal(err: unknown, issuer: string): AuthenticationError {
  if (err instanceof AuthenticationError) return err;
  let message = 'Unauthorized: the token is not valid';
  if (err instanceof errors.JWTExpired) message = 'Unauthorized: the token has expired; get a new one from the IdP';
  else if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'nbf') message = 'Unauthorized: the token is not valid yet (nbf is in the future)';
  else if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'aud') {
    message = 'Unauthorized: the token was issued for another audience; request one for this resource (RFC 8707 resource parameter, or the API the gateway is registered as)';
  } else if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'iss') message = `Unauthorized: the token was not issued by ${issuer}`;
  else if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'exp') message = 'Unauthorized: the token has no expiry (exp)';
  else if (err instanceof errors.JWKSNoMatchingKey) message = `Unauthorized: the token was signed with a key its IdP does not publish${err.message.startsWith("the IdP's keys") ? ` (${err.message})` : ''}`;
  else if (err instanceof errors.JOSEAlgNotAllowed) message = 'Unauthorized: the token uses a signature algorithm this gateway does not accept from its IdP';
  else if (err instanceof errors.JWSSignatureVerificationFailed) message = 'Unauthorized: the token signature does not verify';
  else if (!(err instanceof errors.JOSEError)) throw err;
  return new AuthenticationError(message, 'invalid_token');
}
