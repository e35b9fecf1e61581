import type { JWTPayload } from 'jose';
import type { IdpUse, JwtIssuerConfig } from '../config/index.js';
import type { Principal } from '../shared/principal.js';

/**
 * What the authorization server needs of a company IdP for token exchange, ID-JAG and company sign-in. The
 * gateway hands it the resource side's trusted issuers, which fit this shape: the two modules do not import
 * each other (docs/architecture.md "Module dependencies").
 */
export interface CompanyIdp {
  readonly issuer: string;
  readonly config: JwtIssuerConfig;
  /** auth.jwt.issuers[n], for messages. */
  readonly configPath: string;
  readonly metadata?: { authorization_endpoint?: string; token_endpoint?: string } | undefined;
  /** Checks a JWT of this IdP in full; refusals are errors with `error: 'invalid_token'` and a message saying which check failed. */
  verifyJwt(token: string, kind: 'access-token' | 'id-token' | 'id-jag', audiences: readonly string[], now?: number): Promise<JWTPayload>;
  principalOf(claims: Record<string, unknown>, token: string): Principal;
  actorOf(claims: Record<string, unknown>): Principal | undefined;
  subjectOf(claims: Record<string, unknown>): unknown;
}

export interface CompanyIdps {
  using(use: IdpUse): readonly CompanyIdp[];
}
