import type { KoaContextWithOIDC } from 'oidc-provider';
import type { ResourceCatalog } from './resources.js';

/**
 * MCP clients often send an authorization request without `scope` (the SDK does when the resource's metadata
 * lists none it knows; others never do). oidc-provider would then ask for nothing, and the sign-in would end
 * in a grant of nothing. Here a request without `scope` asks for every scope of its resource — the ones its
 * RFC 9728 metadata lists in `scopes_supported` — and consent cuts that to the user's roles as usual. When
 * the cut leaves nothing, the client gets `invalid_scope` (interactions.ts) rather than an empty token.
 */

/** Marks a request whose scope was filled in here; kept by oidc-provider as an extra parameter. */
export const DEFAULT_SCOPE_PARAM = 'warden_default_scope';

export function defaultScope(resources: ResourceCatalog, authorizationPath: string) {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> => {
    if (ctx.method === 'GET' && ctx.path === authorizationPath) {
      const query = ctx.query;
      // A request object (JAR) or PAR reference carries its own parameters: not rewritten from outside.
      const omitted = (query.scope === undefined || query.scope === '') && query.request === undefined && query.request_uri === undefined;
      const resource = query.resource === undefined ? resources.defaultResource() : typeof query.resource === 'string' ? query.resource : undefined;
      const scopes = omitted && resource ? resources.get(resource)?.scopes ?? [] : [];
      if (scopes.length > 0) ctx.query = { ...query, scope: scopes.join(' '), [DEFAULT_SCOPE_PARAM]: '1' };
    }
    await next();
  };
}
