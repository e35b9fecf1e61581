import Provider, { errors, type Configuration, type KoaContextWithOIDC, type ClientMetadata } from 'oidc-provider';
import type { OAuthConfig } from '../config/index.js';
import type { Store } from '../store/index.js';
import { storeAdapter } from './adapter.js';
import { clientSecretMatches } from './client-secrets.js';
import type { AuthorizationServerKeys } from './keys.js';
import { PAGE_HEADERS, deviceConfirmPage, deviceErrorMessage, deviceInputPage, deviceSuccessPage, errorPage } from './pages.js';
import type { ResourceCatalog } from './resources.js';
import type { DelegatedClaims } from './delegated-grants.js';
import { CLIENT_KIND_PROPERTY, checkRegistration } from './registration-policy.js';
import { DEFAULT_SCOPE_PARAM, defaultScope } from './default-scope.js';
import { DPOP_SIGNING_ALGS, dpopFeature, requireDpopAtTokenEndpoint } from './dpop.js';
import type { MtlsParts } from './mtls.js';

/**
 * The oidc-provider configuration: an OAuth 2.1 authorization server for MCP, with the OpenID parts that
 * MCP does not use turned off. Every choice that differs from oidc-provider's defaults says why.
 */

/** Every endpoint under /oauth/, so that routing is one prefix and nothing shadows /mcp. */
export const OAUTH_ROUTES = {
  authorization: '/oauth/authorize',
  token: '/oauth/token',
  registration: '/oauth/register',
  revocation: '/oauth/revoke',
  introspection: '/oauth/introspect',
  device_authorization: '/oauth/device_authorization',
  code_verification: '/oauth/device',
  jwks: '/oauth/jwks',
  end_session: '/oauth/logout',
  userinfo: '/oauth/userinfo',
  pushed_authorization_request: '/oauth/par',
  backchannel_authentication: '/oauth/backchannel',
  challenge: '/oauth/challenge',
} as const;

export const INTERACTION_PREFIX = '/oauth/interaction/';

export interface ProviderParts {
  issuer: string;
  oauth: OAuthConfig;
  store: Store;
  keys: AuthorizationServerKeys;
  resources: ResourceCatalog;
  /** The user, when they exist and may sign in (not disabled); their tenant and roles go into their access tokens. */
  activeUser(username: string): Promise<{ tenant: string | null; roles: string[] } | undefined>;
  /** Behind a TLS-terminating proxy: trust X-Forwarded-Proto/Host for the issuer's URLs. */
  proxy: boolean;
  /** How the provider fetches Client ID Metadata Documents and jwks_uri: SSRF-safe (safe-fetch.ts). */
  fetch: (url: string | URL, init?: RequestInit) => Promise<Response>;
  /** RFC 8705 (mtls.ts), when the gateway receives client certificates; `bindCertificateClients`: their tokens are bound. */
  mtls?: MtlsParts | undefined;
}

/** What oidc-provider issues for one resource: a JWT access token for that upstream alone, with its scopes. */
export function resourceServerInfo(resources: ResourceCatalog, oauth: OAuthConfig, resourceIndicator: string) {
  const resource = resources.get(resourceIndicator);
  if (!resource) throw new errors.InvalidTarget(`${resourceIndicator.slice(0, 200)} is not a resource of this gateway; use one of ${resources.urls().join(', ')}`);
  return {
    scope: resource.scopes.join(' '),
    audience: resource.url,
    accessTokenTTL: Math.max(1, Math.round(oauth.accessTokenTtl / 1000)),
    accessTokenFormat: 'jwt' as const,
    jwt: { sign: { alg: 'ES256' as const } },
  };
}

export function createProvider(parts: ProviderParts): Provider {
  const { oauth, resources } = parts;
  const seconds = (ms: number) => Math.max(1, Math.round(ms / 1000));
  const configuration: Configuration = {
    adapter: storeAdapter(parts.store.oauth, { refreshReuseIntervalMs: oauth.refreshReuseInterval }),
    jwks: { keys: parts.keys.signing as never },
    cookies: {
      keys: parts.keys.cookieKeys,
      names: { session: 'warden_session', interaction: 'warden_interaction', resume: 'warden_resume' },
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    async findAccount(_ctx, id) {
      // Client-credentials tokens have no account; any other sub must be a user who may still sign in.
      const user = await parts.activeUser(id);
      if (!user) return undefined;
      return { accountId: id, tenant: user.tenant, roles: user.roles, claims: async () => ({ sub: id }) };
    },
    claims: { openid: ['sub'] },
    scopes: ['openid', 'offline_access', ...resources.allScopes()],
    // The authorization code flow only: no implicit or hybrid responses (OAuth 2.1).
    responseTypes: ['code'],
    // OAuth 2.1: PKCE for every client; oidc-provider implements S256 only, so `plain` is refused.
    pkce: { required: () => true },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      // MCP clients are mostly public (PKCE, no secret); oidc-provider's default would demand a secret.
      token_endpoint_auth_method: 'none',
      // The keystore is EC only; the RS256 default would make every registration fail.
      id_token_signed_response_alg: 'ES256',
      // What a registration that says nothing gets under `required` (dpop.ts refuses proofless token requests of every client).
      ...(oauth.dpop.mode === 'required' ? { dpop_bound_access_tokens: true } : {}),
    },
    enabledJWA: { idTokenSigningAlgValues: ['ES256'], dPoPSigningAlgValues: DPOP_SIGNING_ALGS },
    ...(parts.mtls ? { clientAuthMethods: parts.mtls.clientAuthMethods as never } : {}),
    routes: OAUTH_ROUTES,
    extraParams: [DEFAULT_SCOPE_PARAM],
    interactions: { url: (_ctx, interaction) => `${INTERACTION_PREFIX}${interaction.uid}` },
    // MCP clients call the token endpoint from browsers too (the Inspector); no cookie is involved there.
    clientBasedCORS: () => true,
    // Every client that may refresh gets a refresh token; MCP clients rarely ask for offline_access.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    // Refresh tokens live on their own lifetime, not the browser session's (a CLI never has one).
    expiresWithSession: async () => false,
    rotateRefreshToken: true,
    async revokeGrantPolicy(ctx) {
      // A replayed code or device code revokes its grant before any entity is loaded: note whose it was
      // while the code is still in the store, so the audit record names the user, not only the client.
      const { params, route, provider: p } = ctx.oidc;
      if (route === 'token' && params?.grant_type === 'authorization_code' && typeof params.code === 'string') {
        ctx.state.revokedAccount = (await p.AuthorizationCode.find(params.code, { ignoreExpiration: true }))?.accountId;
      } else if (route === 'token' && params?.grant_type === 'urn:ietf:params:oauth:grant-type:device_code' && typeof params.device_code === 'string') {
        ctx.state.revokedAccount = (await p.DeviceCode.find(params.device_code, { ignoreExpiration: true }))?.accountId;
      }
      // oidc-provider's default: revoking one access token leaves its grant alone.
      return !(route === 'revocation' && ctx.oidc.entities.AccessToken);
    },
    ttl: {
      AccessToken: seconds(oauth.accessTokenTtl),
      ClientCredentials: seconds(oauth.accessTokenTtl),
      AuthorizationCode: 60,
      DeviceCode: 600,
      IdToken: 3600,
      Interaction: 3600,
      Session: 14 * 86_400,
      Grant: seconds(oauth.refreshTokenTtl),
      RefreshToken: seconds(oauth.refreshTokenTtl),
    },
    async extraTokenClaims(ctx, token) {
      const claims: Record<string, unknown> = {};
      // Every grant loads the token's account through findAccount before issuing: its tenant is at hand.
      const account = ctx.oidc.account as { accountId: string; tenant?: string | null; roles?: string[] } | undefined;
      if ('accountId' in token && account?.accountId === token.accountId) {
        if (account.tenant) claims.tenant = account.tenant;
        // The roles the scopes were cut to, as they are now (a refresh picks up a change): for policies at the gateway.
        claims.roles = account.roles ?? [];
      }
      // The grant id lets the resource server refuse every token of a revoked grant at once.
      if ('grantId' in token && token.grantId) claims.grant_id = token.grantId;
      // Token exchange and ID-JAG: the IdP that vouched, the tenant and the actor chain (delegated-grants.ts).
      Object.assign(claims, (ctx?.state as { delegated?: DelegatedClaims } | undefined)?.delegated);
      return claims;
    },
    extraClientMetadata: {
      properties: [CLIENT_KIND_PROPERTY],
      validator(ctx, key, value, metadata) {
        if (key === CLIENT_KIND_PROPERTY && ctx?.oidc?.route === 'registration') {
          checkRegistration(value, ctx.oidc.body as Record<string, unknown> | undefined, metadata as ClientMetadata, { bindCertificateClients: parts.mtls?.bindCertificateClients ?? false });
        }
      },
    },
    async renderError(ctx, out) {
      ctx.set(PAGE_HEADERS);
      ctx.type = 'html';
      ctx.body = errorPage({
        title: 'Sign-in could not continue',
        message: typeof out.error_description === 'string' ? out.error_description : String(out.error ?? 'error'),
      });
    },
    features: {
      devInteractions: { enabled: false },
      // RFC 9449: bound access and refresh tokens, nonces; auth.oauth.dpop (dpop.ts).
      dPoP: dpopFeature(oauth.dpop, parts.keys.cookieKeys[0]!),
      mTLS: parts.mtls?.feature ?? { enabled: false },
      userinfo: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      revocation: { enabled: true },
      introspection: { enabled: true },
      registration: { enabled: oauth.registration.enabled },
      clientCredentials: { enabled: oauth.clientCredentials },
      deviceFlow: {
        enabled: oauth.deviceFlow,
        async userCodeInputSource(ctx, form, _out, err) {
          ctx.set(PAGE_HEADERS);
          const error = deviceErrorMessage(err);
          ctx.body = deviceInputPage({ form, ...(error ? { error } : {}) });
        },
        async userCodeConfirmSource(ctx, form, client, _deviceInfo, userCode) {
          ctx.set(PAGE_HEADERS);
          ctx.body = deviceConfirmPage({ form, clientName: client.clientName ?? client.clientId, userCode });
        },
        async successSource(ctx) {
          ctx.set(PAGE_HEADERS);
          ctx.body = deviceSuccessPage({ clientName: ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId ?? 'the app' });
        },
      },
      resourceIndicators: {
        enabled: true,
        // Without `resource`, a gateway with one upstream means that one; with several the client must say which.
        defaultResource: async (_ctx, _client, oneOf) => oneOf ?? resources.defaultResource(),
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resourceIndicator) => resourceServerInfo(resources, oauth, resourceIndicator),
      },
      clientIdMetadataDocument: {
        enabled: oauth.clientIdMetadataDocuments,
        ack: 'draft-02',
      } as never,
    },
    fetch: parts.fetch as never,
  };
  const provider = new Provider(parts.issuer, configuration);
  provider.proxy = parts.proxy;
  provider.use(requireDpopAtTokenEndpoint(oauth.dpop, OAUTH_ROUTES.token));
  provider.use(defaultScope(resources, OAUTH_ROUTES.authorization));
  // `verification_uri_complete` is answered by oidc-provider's own auto-submitting page, which no hook renders:
  // it gets the pages' headers, with an empty script-src that oidc-provider fills with its one script's hash.
  provider.use(async (ctx, next) => {
    if (ctx.path !== OAUTH_ROUTES.code_verification) return next();
    if (ctx.method === 'GET') ctx.set({ ...PAGE_HEADERS, 'content-security-policy': `${PAGE_HEADERS['content-security-policy']}; script-src` });
    try {
      await next();
    } catch (err) {
      // A code posted by a browser without a live session (no cookie, an expired one, a cross-site form):
      // oidc-provider refuses the missing form secret, then throws trying to save the session it never
      // created, which would be a 500.
      if (ctx.method !== 'POST' || !(err instanceof TypeError) || !err.message.includes('persist')) throw err;
      ctx.status = 400;
      ctx.set(PAGE_HEADERS);
      ctx.body = errorPage({
        title: 'Code entry could not continue',
        message: `This form has expired or was opened in another browser. Open ${OAUTH_ROUTES.code_verification} again and enter the code your device shows.`,
      });
    }
  });
  // Client secrets are stored as digests (adapter.ts); oidc-provider compares plain strings.
  provider.Client.prototype.compareClientSecret = function compare(this: { clientSecret?: string }, actual: string): boolean {
    return typeof this.clientSecret === 'string' && clientSecretMatches(this.clientSecret, actual);
  } as never;
  return provider;
}

export type { KoaContextWithOIDC };
