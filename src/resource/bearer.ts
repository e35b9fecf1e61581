import type { IncomingMessage } from 'node:http';
import { AuthenticationError } from './errors.js';

/**
 * Query parameters that carry credentials in the wild. OAuth 2.1 drops RFC 6750's URI query method: URLs
 * end up in proxy logs, browser history and Referer headers, so a credential there is refused outright.
 */
const CREDENTIAL_PARAMS = new Set(['access_token', 'api_key', 'apikey', 'api-key', 'key', 'token', 'auth', 'authorization']);

/** The token of `Authorization: Bearer <token>` (or `DPoP <token>`), or undefined when the request has no Authorization header. */
export function extractBearer(req: IncomingMessage): string | undefined {
  return extractCredential(req, true)?.token;
}

/**
 * The token and its scheme: `Bearer`, or `DPoP` (RFC 9449 §7.1) when `dpop` says some verifier checks proofs.
 * Undefined when the request has no Authorization header.
 */
export function extractCredential(req: IncomingMessage, dpop: boolean): { token: string; scheme: 'bearer' | 'dpop' } | undefined {
  refuseCredentialInUrl(req.url);
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  refuseSecondAuthorization(req);
  const match = /^(Bearer|DPoP) +([\x21-\x7e]+) *$/i.exec(header);
  const scheme = match?.[1]!.toLowerCase() as 'bearer' | 'dpop' | undefined;
  if (!match || (scheme === 'dpop' && !dpop)) {
    const named = /^\S+/.exec(header)?.[0];
    const expected = dpop ? 'Authorization: Bearer <key> or DPoP <token>' : 'Authorization: Bearer <key>';
    throw new AuthenticationError(
      named && !/^bearer$/i.test(named)
        ? `Unauthorized: the ${named.slice(0, 20)} scheme is not accepted; send ${expected}`
        : `Unauthorized: the Authorization header is malformed; send ${expected}`,
      'invalid_token',
    );
  }
  return { token: match[2]!, scheme: scheme! };
}

function refuseCredentialInUrl(url: string | undefined): void {
  const q = url?.indexOf('?') ?? -1;
  if (q === -1) return;
  for (const [name, value] of new URLSearchParams(url!.slice(q + 1))) {
    if (CREDENTIAL_PARAMS.has(name.toLowerCase()) || value.startsWith('wdn_')) {
      throw AuthenticationError.badRequest(
        `Bad Request: credentials in the URL are refused (URLs end up in logs and histories), so parameter '${name.slice(0, 40)}' was not read; send Authorization: Bearer <key> instead, and rotate that key if it was ever sent this way`,
        'credential_in_url',
      );
    }
  }
}

/**
 * Node keeps the first of several Authorization headers and drops the rest; a proxy in front may keep the
 * last. Which credential the request carries must not depend on who reads it, so two are refused.
 */
function refuseSecondAuthorization(req: IncomingMessage): void {
  let seen = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.length === 13 && req.rawHeaders[i]!.toLowerCase() === 'authorization' && ++seen > 1) {
      throw AuthenticationError.badRequest('Bad Request: the request carries more than one Authorization header; send exactly one', 'duplicate_credential');
    }
  }
}
