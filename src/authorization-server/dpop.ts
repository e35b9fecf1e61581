import { hkdfSync } from 'node:crypto';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { DPOP_ALGORITHMS, type DpopConfig } from '../config/index.js';

/**
 * DPoP (RFC 9449) at the embedded authorization server: oidc-provider's `features.dPoP` does the work (proof
 * checks at the token endpoint, `cnf.jkt` in access tokens, `token_type: DPoP`, refresh tokens of public
 * clients bound to the same key); this module only turns the config into its settings, and adds what
 * `required` means, which oidc-provider expresses per client only (`dpop_bound_access_tokens`).
 */

/** The key of DPoP nonces at the AS and at the gateway: derived from the cookie key every instance shares through the store. */
export function dpopNonceSecret(cookieKey: string): Buffer {
  return Buffer.from(hkdfSync('sha256', cookieKey, '', 'mcp-warden dpop nonce', 32));
}

/** oidc-provider's `features.dPoP`. */
export function dpopFeature(settings: DpopConfig, cookieKey: string) {
  if (settings.mode === 'off') return { enabled: false };
  return {
    enabled: true,
    ...(settings.nonce ? { nonceSecret: dpopNonceSecret(cookieKey) } : {}),
    requireNonce: () => settings.nonce,
    // Proof jtis at the token endpoint go through the adapter's ReplayDetection model (the store): one per client.
    allowReplay: false,
  };
}

/**
 * Under `required`, every token request carries a proof: oidc-provider would issue a bearer token to a client
 * registered without `dpop_bound_access_tokens`, and the gateway would then refuse it. Refused here instead,
 * where the client can still fix it, with RFC 9449 §5's error. (The proof itself is oidc-provider's to check.)
 */
export function requireDpopAtTokenEndpoint(settings: DpopConfig, tokenPath: string) {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> => {
    if (settings.mode !== 'required' || ctx.path !== tokenPath || ctx.method !== 'POST' || ctx.get('dpop') !== '') return next();
    ctx.status = 400;
    ctx.set('cache-control', 'no-store');
    ctx.body = {
      error: 'invalid_dpop_proof',
      error_description: 'this authorization server issues DPoP-bound tokens only (auth.oauth.dpop: required); send a DPoP proof with the token request',
    };
  };
}

/** The algorithms advertised (`dpop_signing_alg_values_supported`) and accepted: the gateway's own list. */
export const DPOP_SIGNING_ALGS = [...DPOP_ALGORITHMS];

/** What oidc-provider's proof check answers for a valid proof (validate_dpop.js). */
interface ValidatedProof {
  thumbprint: string;
  jti: string;
  iat: number;
}
type ValidateDpop = (provider: Provider, ctx: KoaContextWithOIDC) => Promise<ValidatedProof | undefined>;
type CheckReplay = (provider: Provider, ctx: KoaContextWithOIDC, proof: ValidatedProof, clientId: string) => Promise<void>;

/**
 * DPoP for the tokens built outside oidc-provider's own grants (token exchange, ID-JAG): the token request's
 * proof is checked by oidc-provider's own helper (signature, `htm`, `htu`, `iat`, nonce, then `jti` replay per
 * client), exactly as its `client_credentials` grant does, and the token is bound to the proof's key. Without
 * a proof, a client registered with `dpop_bound_access_tokens` is refused, as oidc-provider's grants refuse it.
 * The helper is not part of oidc-provider's documented API: the tests that issue bound exchange tokens are what
 * notices a change in it.
 */
export async function bindDelegatedToken(provider: Provider, ctx: KoaContextWithOIDC, token: { setThumbprint(kind: 'jkt', value: string): void }): Promise<void> {
  const helpers = (await import('oidc-provider/lib/helpers/validate_dpop.js' as string)) as { default: ValidateDpop; checkDpopReplay: CheckReplay };
  const proof = await helpers.default(provider, ctx);
  const client = ctx.oidc.client as unknown as { clientId: string; dpopBoundAccessTokens?: boolean };
  if (!proof) {
    if (client.dpopBoundAccessTokens) throw new errors.InvalidGrant('DPoP proof JWT not provided');
    return;
  }
  await helpers.checkDpopReplay(provider, ctx, proof, client.clientId);
  token.setThumbprint('jkt', proof.thumbprint);
}
