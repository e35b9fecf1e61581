import type { PresentedCredentialKind } from '../shared/principal.js';

/**
 * Why a request could not be authenticated, in RFC 6750 terms. The pipeline turns it into a 401 (or 400 for
 * `invalid_request`) with a `WWW-Authenticate` challenge; `message` is safe to show the caller and never
 * holds the credential.
 */
export type BearerErrorCode = 'invalid_request' | 'invalid_token';

/** RFC 9449 §7.1, §9: errors of the DPoP scheme. */
export type DpopErrorCode = 'invalid_dpop_proof' | 'use_dpop_nonce';

/** The request itself is wrong about credentials (400, not 401): which way. */
export type CredentialProblem = 'credential_in_url' | 'duplicate_credential';

/** The gateway cannot check the credential right now (503, not 401): why. */
export type CheckUnavailable = 'dpop_replay_cache_full' | 'shared_state_unavailable';

/** What the audit record of a refusal says beyond the error code, when the credential was read far enough to know. */
export interface RefusalDetail {
  /** Why, in a few words, e.g. "certificate-bound token without a client certificate". */
  reason?: string;
  /** The subject of a credential that was valid but used wrongly (a bound token over another connection). */
  subject?: string;
  /** The thumbprint of the client certificate presented beside it. */
  certificate?: string;
}

export class AuthenticationError extends Error {
  /** Set for `invalid_request`: what was wrong with the request. */
  problem?: CredentialProblem;
  /** Set when the credential could not be checked for a reason of the gateway's own: answered 503. */
  unavailable?: CheckUnavailable;
  /** Set when DPoP is the way to fix it: the error goes in the `DPoP` challenge, with a fresh nonce when one is needed. */
  dpop?: { nonce?: string };

  static unavailable(message: string, why: CheckUnavailable): AuthenticationError {
    const err = new AuthenticationError(message, 'invalid_token');
    err.unavailable = why;
    return err;
  }
  /** For the audit record; never the credential. */
  detail?: RefusalDetail;

  static badRequest(message: string, problem: CredentialProblem): AuthenticationError {
    const err = new AuthenticationError(message, 'invalid_request');
    err.problem = problem;
    return err;
  }

  constructor(
    message: string,
    /** Absent when no credential was sent at all (RFC 6750 §3.1: then the challenge carries no error). */
    readonly error?: BearerErrorCode | DpopErrorCode,
    /** For the audit record: the credential's public id when one could be read (an API key id), never the secret. */
    readonly credentialId?: string,
    /** For the audit record: what was presented; `none` when nothing was. */
    readonly credentialKind: PresentedCredentialKind = error ? 'unknown' : 'none',
    detail?: RefusalDetail,
  ) {
    super(message);
    this.name = 'AuthenticationError';
    if (detail) this.detail = detail;
  }
}

export function isAuthenticationError(err: unknown): err is AuthenticationError {
  return err instanceof AuthenticationError;
}
