import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { IDENTITY_JWT_TYPE, type PrincipalClaims } from './identity-tokens.js';

export interface IdentityVerifierOptions {
  /** The gateway's public URL (its `publicUrl`): the issuer, and where its JWKS is. */
  gateway: string;
  /** This server's URL as the gateway's config names it (`upstreams.<name>.url`, or `identity.audience`). */
  audience: string;
  /** Seconds of clock difference to tolerate (default 5). */
  clockTolerance?: number;
  /** Where the keys are, when not at `<gateway>/.well-known/jwks.json`. */
  jwksUrl?: string;
}

export type VerifiedCaller = PrincipalClaims & Required<Pick<JWTPayload, 'iss' | 'aud' | 'exp' | 'iat' | 'jti'>>;

/**
 * For MCP servers behind the gateway: checks the identity JWT the gateway sends with every request it
 * forwards (`x-warden-identity` by default) and returns who calls. Issuer, audience, `typ` and the algorithm
 * are pinned; keys are fetched from the gateway's JWKS, cached, and fetched again for an unknown kid.
 * Rejects (with jose's error) when the token is missing, forged, expired or meant for another server.
 */
export function identityVerifier(options: IdentityVerifierOptions): (token: string | string[] | undefined) => Promise<VerifiedCaller> {
  const issuer = options.gateway.replace(/\/+$/, '');
  const keys = createRemoteJWKSet(new URL(options.jwksUrl ?? `${issuer}/.well-known/jwks.json`));
  return async (token) => {
    if (typeof token !== 'string' || token === '') throw new TypeError('no caller identity: the request has no identity token');
    const { payload } = await jwtVerify(token, keys, {
      issuer,
      audience: options.audience,
      typ: IDENTITY_JWT_TYPE,
      algorithms: ['ES256'],
      clockTolerance: options.clockTolerance ?? 5,
    });
    return payload as unknown as VerifiedCaller;
  };
}
