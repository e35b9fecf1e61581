import { GatewayError } from '../../shared/errors.js';
import { ANONYMOUS, type AuditedPrincipal } from '../../shared/principal.js';
import type { Authenticator } from '../../resource/authenticator.js';
import { isAuthenticationError, type AuthenticationError } from '../../resource/errors.js';
import { bearerChallenge, dpopChallenge } from '../../resource/challenge.js';
import { metadataUrlFor } from '../../resource/metadata.js';
import { denials, Refusal, type HttpCall, type HttpCaller } from './stage.js';
import { tooMany, type Limiters } from './rate-limit.js';

export interface AuthenticateParts {
  authenticator: Authenticator;
  /** The resource URLs of an upstream: what an access token's audience must be. */
  audiences(upstream: string): readonly string[];
  limiters: Limiters;
  /** The challenges a 401 carries: `Bearer` unless only DPoP-bound tokens are accepted, `DPoP` with its algorithms when DPoP is on. */
  schemes?: ChallengeSchemes;
  /** With DPoP nonces on (auth.oauth.dpop.nonce): the nonce of the moment, for the next proof. */
  dpopNonce?: () => string;
}

export interface ChallengeSchemes {
  bearer: boolean;
  dpop?: { algs: readonly string[] };
}

const BEARER_ONLY: ChallengeSchemes = { bearer: true };

/**
 * Step 2: the credential becomes a principal. A refused one gets a 401 challenge (400 for a credential in the
 * URL) and a record naming the kind of credential presented. Refusals also spend the caller's per-IP
 * budget and a much smaller one for failures alone, so guessing keys is throttled while callers that hold
 * a valid one are not.
 */
export function authenticate({ authenticator, audiences, limiters, schemes = BEARER_ONLY, dpopNonce }: AuthenticateParts): (call: HttpCall) => Promise<HttpCaller> {
  return async (call) => {
    try {
      const principal = await authenticator.authenticate(call.req, { audiences: audiences(call.upstream), request: { method: call.method, url: call.resource } });
      // RFC 9449 §8.2: a fresh nonce with every answer to a proof the gateway checked, so that a client that
      // keeps the latest one never meets use_dpop_nonce again (only the embedded AS's tokens are checked for it).
      if (dpopNonce && principal.confirmation?.jkt && principal.credential.kind === 'oauth') call.res.setHeader('dpop-nonce', dpopNonce());
      return { ...call, principal };
    } catch (err) {
      if (!isAuthenticationError(err)) throw err;
      const records = denials({ ...call, principal: presented(err) }, reasonOf(err), 'authentication');
      // One record for the request, whatever it holds: nothing in it was looked at.
      const record = records.slice(0, 1);
      for (const limiter of [limiters.ip, limiters.failedAuth]) {
        const verdict = await limiter?.take(call.ip ?? '');
        if (verdict && !verdict.ok) throw new Refusal(tooMany(`from ${call.ip}`, verdict.retryAfterSeconds), record);
      }
      throw new Refusal(challenge(call, err, schemes), record);
    }
  };
}

/** What is known of a refused caller: the kind of credential presented, and its public id when one could be read. */
function presented(err: AuthenticationError): AuditedPrincipal {
  const { subject, certificate } = err.detail ?? {};
  return { ...ANONYMOUS, subject: subject ?? '-', credential: { kind: err.credentialKind, id: err.credentialId ?? '-' }, ...(certificate ? { certificate } : {}) };
}

/**
 * What the record says: the error code, and for DPoP the check that failed (the message names the check,
 * never the token or the proof).
 */
function reasonOf(err: AuthenticationError): string {
  const reason = `authentication failed: ${err.unavailable ?? err.error ?? 'no credential'}${err.detail?.reason ? ` (${err.detail.reason})` : ''}`;
  return err.dpop ? `${reason}: ${err.message.replace(/^Unauthorized: /, '').slice(0, 200)}` : reason;
}

/**
 * RFC 6750 §3 and RFC 9449 §7.1: one challenge per scheme the endpoint accepts, the error in the scheme that
 * fixes it (DPoP for proof and nonce errors), a fresh `DPoP-Nonce` when a nonce is wanted.
 */
function challenge(call: HttpCall, err: AuthenticationError, schemes: ChallengeSchemes): GatewayError {
  if (err.unavailable) return new GatewayError(err.unavailable, err.message, { 'retry-after': '1' });
  const params = {
    resourceMetadata: metadataUrlFor(call.resource),
    ...(err.error ? { error: err.error } : {}),
    ...(err.error === 'invalid_token' ? { description: 'the credential is not valid' } : {}),
  };
  const bare = { resourceMetadata: params.resourceMetadata };
  const inDpop = schemes.dpop !== undefined && (err.dpop !== undefined || !schemes.bearer);
  const values: string[] = [];
  if (schemes.bearer) values.push(bearerChallenge(inDpop ? bare : params));
  if (schemes.dpop) values.push(dpopChallenge({ ...(inDpop ? params : bare), algs: schemes.dpop.algs }));
  const headers: Record<string, string> = { 'www-authenticate': values.join(', ') };
  if (err.dpop?.nonce) headers['dpop-nonce'] = err.dpop.nonce;
  return new GatewayError(err.error === 'invalid_request' ? err.problem ?? 'invalid_request' : 'unauthorized', err.message, headers);
}
