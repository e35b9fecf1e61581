import type { ServerResponse } from 'node:http';
import { PRM_PREFIX, protectedResourceMetadata } from '../resource/metadata.js';
import type { ScopePolicy } from '../policy/index.js';
import type { IdentityTokenSigner } from '../credentials/index.js';
import { sendJson } from './exchange.js';

export const JWKS_PATH = '/.well-known/jwks.json';

/** Public documents: readable from any origin (browser-based MCP clients discover through them). */
const PUBLIC_HEADERS = { 'access-control-allow-origin': '*', 'cache-control': 'public, max-age=300' };

export interface WellKnownParts {
  /** The base URL resources are named under (publicUrl, or the listen address). */
  base: () => string;
  upstreams: readonly string[];
  soleUpstream: string | undefined;
  scopes: ScopePolicy | undefined;
  signer: () => IdentityTokenSigner | undefined;
  /** The embedded authorization server's issuer, when OAuth is on. */
  authorizationServer: () => string | undefined;
}

/**
 * Serves RFC 9728 metadata per MCP endpoint (only when authentication is on: without it nothing is
 * protected) and the JWKS of the identity JWTs upstreams receive. Answers true when it handled the path.
 */
export function serveWellKnown(path: string, res: ServerResponse, parts: WellKnownParts): boolean {
  if (path === JWKS_PATH) {
    const signer = parts.signer();
    if (!signer) return false;
    sendJson(res, 200, signer.jwks(), PUBLIC_HEADERS);
    return true;
  }
  if (!path.startsWith(`${PRM_PREFIX}/mcp`) || !parts.scopes) return false;
  const endpoint = path.slice(PRM_PREFIX.length);
  const upstream = endpoint === '/mcp' ? parts.soleUpstream : endpoint.startsWith('/mcp/') ? endpoint.slice(5) : undefined;
  if (upstream === undefined || !parts.upstreams.includes(upstream)) return false;
  const issuer = parts.authorizationServer();
  sendJson(res, 200, protectedResourceMetadata({
    resource: `${parts.base()}${endpoint}`,
    scopes: parts.scopes.scopesFor(upstream),
    ...(issuer ? { authorizationServers: [issuer] } : {}),
    name: `MCP server '${upstream}' behind mcp-warden`,
  }), PUBLIC_HEADERS);
  return true;
}
