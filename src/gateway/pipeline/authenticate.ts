import { GatewayError } from '../../shared/errors.js';
import { ANONYMOUS, type AuditedPrincipal } from '../../shared/principal.js';
import type { Authenticator } from '../../resource/authenticator.js';
import { isAuthenticationError, type AuthenticationError } from '../../resource/errors.js';
import { bearerChallenge } from '../../resource/challenge.js';
import { metadataUrlFor } from '../../resource/metadata.js';
import { denials, Refusal, type HttpCall, type HttpCaller } from './stage.js';
import { tooMany, type Limiters } from './rate-limit.js';

export interface AuthenticateParts {
  authenticator: Authenticator;
  /** The resource URLs of an upstream: what an access token's audience must be. */
  audiences(upstream: string): readonly string[];
  limiters: Limiters;
}

/**
 * Step 2: the credential becomes a principal. A refused one gets a 401 challenge (400 for a credential in the
 * URL) and a record naming the kind of credential presented. Refusals also spend the caller's per-IP
 * budget and a much smaller one for failures alone, so guessing keys is throttled while callers that hold
 * a valid one are not.
 */
export function authenticate({ authenticator, audiences, limiters }: AuthenticateParts): (call: HttpCall) => Promise<HttpCaller> {
  return async (call) => {
    try {
      const principal = await authenticator.authenticate(call.req, { audiences: audiences(call.upstream) });
      return { ...call, principal };
    } catch (err) {
      if (!isAuthenticationError(err)) throw err;
      const records = denials({ ...call, principal: presented(err) }, `authentication failed: ${err.error ?? 'no credential'}`, 'authentication');
      // One record for the request, whatever it holds: nothing in it was looked at.
      const record = records.slice(0, 1);
      for (const limiter of [limiters.ip, limiters.failedAuth]) {
        const verdict = await limiter?.take(call.ip ?? '');
        if (verdict && !verdict.ok) throw new Refusal(tooMany(`from ${call.ip}`, verdict.retryAfterSeconds), record);
      }
      throw new Refusal(challenge(call, err), record);
    }
  };
}

/** What is known of a refused caller: the kind of credential presented, and its public id when one could be read. */
function presented(err: AuthenticationError): AuditedPrincipal {
  return { ...ANONYMOUS, subject: '-', credential: { kind: err.credentialKind, id: err.credentialId ?? '-' } };
}

function challenge(call: HttpCall, err: AuthenticationError): GatewayError {
  const header = bearerChallenge({
    resourceMetadata: metadataUrlFor(call.resource),
    ...(err.error ? { error: err.error } : {}),
    ...(err.error === 'invalid_token' ? { description: 'the credential is not valid' } : {}),
  });
  return new GatewayError(err.error === 'invalid_request' ? err.problem ?? 'invalid_request' : 'unauthorized', err.message, { 'www-authenticate': header });
}
