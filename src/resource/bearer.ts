import type { IncomingMessage } from 'node:http';
import { AuthenticationError } from './errors.js';

/**
 * Query parameters that carry credentials in the wild. OAuth 2.1 drops RFC 6750's URI query method: URLs
 * end up in proxy logs, browser history and Referer headers, so a credential there is refused outright.
 */
const CREDENTIAL_PARAMS = new Set(['access_token', 'api_key', 'apikey', 'api-key', 'key', 'token', 'auth', 'authorization']);

/** The bearer token of `Authorization: Bearer <token>`, or undefined when the request has no Authorization header. */
export function extractBearer(req: IncomingMessage): string | undefined {
  refuseCredentialInUrl(req.url);
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
  if (!match) {
    const scheme = /^\S+/.exec(header)?.[0];
    throw new AuthenticationError(
      scheme && !/^bearer$/i.test(scheme)
        ? `Unauthorized: the ${scheme.slice(0, 20)} scheme is not accepted; send Authorization: Bearer <key>`
        : 'Unauthorized: the Authorization header is malformed; send Authorization: Bearer <key>',
      'invalid_token',
    );
  }
  return match[1]!;
}

function refuseCredentialInUrl(url: string | undefined): void {
  const q = url?.indexOf('?') ?? -1;
  if (q === -1) return;
  for (const [name, value] of new URLSearchParams(url!.slice(q + 1))) {
    if (CREDENTIAL_PARAMS.has(name.toLowerCase()) || value.startsWith('wdn_')) {
      throw new AuthenticationError(
        `Bad Request: credentials in the URL are refused (URLs end up in logs and histories), so parameter '${name.slice(0, 40)}' was not read; send Authorization: Bearer <key> instead, and rotate that key if it was ever sent this way`,
        'invalid_request',
      );
    }
  }
}
