import type { BearerErrorCode, DpopErrorCode } from './errors.js';

export interface ChallengeParams {
  /** RFC 9728 §5.1: where the client finds the protected resource metadata. */
  resourceMetadata: string;
  error?: BearerErrorCode | DpopErrorCode | 'insufficient_scope';
  description?: string;
  /** Space-separated scopes that would grant the request (insufficient_scope). */
  scope?: string;
}

/** A `WWW-Authenticate: Bearer ...` value (RFC 6750 §3, RFC 9728 §5.1). */
export function bearerChallenge(params: ChallengeParams): string {
  const parts = [`realm="mcp"`];
  if (params.error) parts.push(`error="${params.error}"`);
  if (params.description) parts.push(`error_description="${quotable(params.description)}"`);
  if (params.scope) parts.push(`scope="${quotable(params.scope)}"`);
  parts.push(`resource_metadata="${quotable(params.resourceMetadata)}"`);
  return `Bearer ${parts.join(', ')}`;
}

/**
 * A `WWW-Authenticate: DPoP ...` value (RFC 9449 §7.1): the algorithms a proof may use, and RFC 9728's
 * `resource_metadata`, which is not Bearer-specific, so that a client that only reads this challenge finds the AS.
 */
export function dpopChallenge(params: ChallengeParams & { algs: readonly string[] }): string {
  return bearerChallenge(params).replace(/^Bearer realm="mcp"/, `DPoP realm="mcp", algs="${params.algs.join(' ')}"`);
}

/** RFC 6750 §3: error_description and scope are limited to printable ASCII without `"` and `\`. */
function quotable(text: string): string {
  return text.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '').slice(0, 300);
}
