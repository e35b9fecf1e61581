import { readBounded } from '../shared/bounded-body.js';

/**
 * Finds what a company IdP publishes about itself: OpenID Connect Discovery 1.0 first (Okta, Entra ID,
 * Keycloak, Auth0 and Google all serve it), then RFC 8414 for a plain OAuth authorization server. The
 * document's `issuer` must equal the configured one exactly (OIDC Discovery §4.3, RFC 8414 §3.3): a
 * document that names another issuer is an attacker's or a misconfiguration, and its keys are not used.
 */

export interface IssuerMetadata {
  issuer: string;
  jwks_uri?: string;
  introspection_endpoint?: string;
  token_endpoint?: string;
  authorization_endpoint?: string;
  /** Which document answered. */
  source: string;
}

export class DiscoveryError extends Error {
  readonly code = 'idp_discovery_failed';
  constructor(message: string) {
    super(message);
    this.name = 'DiscoveryError';
  }
}

const MAX_DOCUMENT_BYTES = 256 * 1024;
const TIMEOUT_MS = 5_000;

/** The two well-known locations, in the order they are tried. */
export function discoveryUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return [
    // OIDC Discovery §4: appended to the issuer.
    `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`,
    // RFC 8414 §3.1: inserted between the host and the path.
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
  ];
}

export async function discoverIssuer(issuer: string, fetchImpl: typeof fetch = fetch): Promise<IssuerMetadata> {
  const failures: string[] = [];
  for (const url of discoveryUrls(issuer)) {
    let document: Record<string, unknown>;
    try {
      document = await fetchDocument(url, fetchImpl);
    } catch (err) {
      failures.push(`${url}: ${(err as Error).message}`);
      continue;
    }
    if (document.issuer !== issuer) {
      // Not tried further: the IdP answered, and said it is someone else.
      throw new DiscoveryError(`${url} names issuer ${JSON.stringify(String(document.issuer).slice(0, 200))}, not ${issuer}; set issuer to exactly what the IdP's tokens carry in iss`);
    }
    const metadata: IssuerMetadata = { issuer, source: url };
    for (const key of ['jwks_uri', 'introspection_endpoint', 'token_endpoint', 'authorization_endpoint'] as const) {
      if (typeof document[key] === 'string') metadata[key] = document[key];
    }
    return metadata;
  }
  throw new DiscoveryError(`could not discover ${issuer} (${failures.join('; ')})`);
}

async function fetchDocument(url: string, fetchImpl: typeof fetch): Promise<Record<string, unknown>> {
  const res = await fetchImpl(url, { headers: { accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(TIMEOUT_MS) })
    .catch((err: Error) => {
      throw new Error(err.name === 'TimeoutError' ? `no answer within ${TIMEOUT_MS / 1000} s` : (err.cause as Error | undefined)?.message ?? err.message);
    });
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`answered ${res.status}`);
  }
  const text = await readBounded(res, MAX_DOCUMENT_BYTES);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new Error('answered something that is not JSON');
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document)) throw new Error('answered JSON that is not an object');
  return document as Record<string, unknown>;
}
