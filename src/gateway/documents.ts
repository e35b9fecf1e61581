import type { ServerResponse } from 'node:http';
import { protectedResourceMetadata } from '../resource/metadata.js';
import type { ScopePolicy } from '../policy/index.js';
import type { IdentityTokenSigner } from '../credentials/index.js';
import { sendJson } from './respond.js';
import { PATHS, type McpRoutes } from './routes.js';

/** Public documents: readable from any origin (browser-based MCP clients discover through them). */
const PUBLIC_HEADERS = { 'access-control-allow-origin': '*', 'cache-control': 'public, max-age=300' };

export interface DocumentParts {
  routes: McpRoutes;
  /** Absent with `auth: none`: then nothing is protected and there is no metadata to publish. */
  scopes: ScopePolicy | undefined;
  signer: IdentityTokenSigner | undefined;
  /** The embedded authorization server's issuer when OAuth is on, and the company IdPs whose tokens are accepted. */
  authorizationServers: readonly string[];
  /** When the embedded AS's tokens may be DPoP-bound: what the metadata says of it. */
  dpop?: { required: boolean; algs: readonly string[] };
}

/**
 * Serves RFC 9728 metadata per MCP endpoint and the JWKS of the identity JWTs upstreams receive. Answers
 * true when it handled the path.
 */
export function serveDocument(path: string, res: ServerResponse, { routes, scopes, signer, authorizationServers, dpop }: DocumentParts): boolean {
  if (path === PATHS.identityJwks) {
    if (!signer) return false;
    sendJson(res, 200, signer.jwks(), PUBLIC_HEADERS);
    return true;
  }
  const endpoint = scopes ? routes.metadataOf(path) : undefined;
  if (!endpoint) return false;
  sendJson(res, 200, protectedResourceMetadata({
    resource: endpoint.url,
    scopes: scopes!.scopesFor(endpoint.upstream),
    authorizationServers: [...authorizationServers],
    name: `MCP server '${endpoint.upstream}' behind mcp-warden`,
    ...(dpop ? { dpop } : {}),
  }), PUBLIC_HEADERS);
  return true;
}
