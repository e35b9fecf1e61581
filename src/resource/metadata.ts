/**
 * RFC 9728 Protected Resource Metadata for one MCP endpoint. The path-inserted location is
 * `/.well-known/oauth-protected-resource` + the resource's path (§3.1).
 */
export interface ProtectedResourceMetadata {
  resource: string;
  scopes_supported: string[];
  bearer_methods_supported: ['header'];
  authorization_servers?: string[];
  resource_name?: string;
  /** RFC 9449 §5.1 / RFC 9728 §2: DPoP proof algorithms accepted, and whether only DPoP-bound tokens are. */
  dpop_signing_alg_values_supported?: string[];
  dpop_bound_access_tokens_required?: boolean;
}

export function protectedResourceMetadata(options: {
  resource: string;
  scopes: string[];
  authorizationServers?: string[];
  name?: string;
  dpop?: { required: boolean; algs: readonly string[] };
}): ProtectedResourceMetadata {
  return {
    resource: options.resource,
    scopes_supported: options.scopes,
    // Header only: OAuth 2.1 removed the query method, and this gateway refuses it.
    bearer_methods_supported: ['header'],
    ...(options.authorizationServers?.length ? { authorization_servers: options.authorizationServers } : {}),
    ...(options.name ? { resource_name: options.name } : {}),
    ...(options.dpop ? { dpop_signing_alg_values_supported: [...options.dpop.algs], dpop_bound_access_tokens_required: options.dpop.required } : {}),
  };
}

export const PRM_PREFIX = '/.well-known/oauth-protected-resource';

/** The metadata URL for a resource URL: the well-known prefix inserted before its path. */
export function metadataUrlFor(resource: string): string {
  const url = new URL(resource);
  return `${url.origin}${PRM_PREFIX}${url.pathname === '/' ? '' : url.pathname}`;
}
