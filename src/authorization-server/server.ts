import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AuthorizationConfig, OAuthConfig } from '../config/index.js';
import type { ScopePolicy } from '../policy/index.js';
import { TokenBucketLimiter } from '../ratelimit/index.js';
import type { Store } from '../store/index.js';
import type { Logger } from '../shared/log.js';
import type { OAuthEvent } from '../audit/index.js';
import { createInteractionHandler, type InteractionEvent } from './interactions.js';
import { loadAuthorizationServerKeys, type AuthorizationServerKeys } from './keys.js';
import { createProvider, INTERACTION_PREFIX, OAUTH_ROUTES, type ProviderParts } from './provider.js';
import { dpopNonceSecret } from './dpop.js';
import type { ResourceCatalog } from './resources.js';
import { listRevocation, revocationContext, revokeGrant, type RevocationContext } from './revoke.js';
import { SSO_CALLBACK, SsoSignIn, type CompanySignIn } from './sso.js';
import { UserDirectory } from './users.js';
import { SignInThrottle, type SignInGuard, type SignInThrottleOptions } from './sign-in-throttle.js';
import type { RateLimiter } from '../ratelimit/index.js';
import { createSafeFetch } from './safe-fetch.js';
import { PAGE_HEADERS, errorPage } from './pages.js';
import { withProviderContext } from './request-context.js';
import { createHash, X509Certificate } from 'node:crypto';
import { thumbprintOf } from '../resource/client-certificate.js';
import { registerDelegatedGrants, type DelegatedClaims } from './delegated-grants.js';
import type { ReplayCache } from '../store/replay-cache.js';
import { RedisUnavailableError } from '../store/redis/connection.js';
import type { PendingStore } from '../store/redis/pending.js';
import type { Pending } from './sso.js';
import type { CompanyIdps } from './company-idp.js';

/**
 * The embedded OAuth 2.1 authorization server: oidc-provider behind the gateway's router, with the store as
 * its storage, the built-in user directory as its accounts, and its events in the audit log.
 */

/** What the authorization server tells the audit log; `audit/` turns it into a record. */
export type OAuthAuditEvent = OAuthEvent;

/** Claims of a verified access token, for introspection and JWT revocation; undefined when not valid. */
export type AccessTokenCheck = (token: string) => Promise<Record<string, unknown> | undefined>;

export interface AuthorizationServerOptions {
  issuer: string;
  oauth: OAuthConfig;
  authorization: AuthorizationConfig;
  store: Store;
  resources: ResourceCatalog;
  policy: ScopePolicy;
  log: Logger;
  trustProxy: boolean;
  clientIp(req: IncomingMessage): string;
  audit(event: OAuthAuditEvent): Promise<void>;
  /** Verifies an access token this server issued (the resource side's verifier). */
  checkAccessToken: AccessTokenCheck;
  /** Company IdPs, for token exchange and ID-JAG. */
  issuers?: CompanyIdps | undefined;
  /** RFC 8705: certificate client authentication and bound tokens (mtls.ts). */
  mtls?: ProviderParts['mtls'];
  /** ID-JAG ids being redeemed: shared by all instances when Redis is configured. */
  replay?: ReplayCache | undefined;
  /** Shared by all instances when Redis is configured: the sign-in and registration limits and the sign-in back-off. */
  shared?: SharedGuards | undefined;
}

export interface SharedGuards {
  limiter(name: string, limit: { requestsPerSecond: number; burst: number }): RateLimiter;
  signInThrottle(options: SignInThrottleOptions): SignInGuard;
  /** Company sign-ins waiting for the IdP's callback, which may land on any instance. */
  pending<T>(namespace: string): PendingStore<T>;
}

/** Revocation-list writes started by provider events, per request: the answer waits for them. */
const pendingWrites = new WeakMap<object, Promise<unknown>[]>();

const DISCOVERY = new Set(['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']);

export class AuthorizationServer {
  readonly users: UserDirectory;
  private provider!: Provider;
  private callback!: ReturnType<Provider['callback']>;
  private keys!: AuthorizationServerKeys;
  private readonly registrations: RateLimiter;
  /** Password and user-code attempts per IP. */
  readonly signIns: RateLimiter;
  /** Guessing passwords is slowed per username and address wherever one signs in (the admin console shares these). */
  readonly signInThrottle: SignInGuard;
  private readonly revocation: RevocationContext;
  private readonly interactions: ReturnType<typeof createInteractionHandler>;
  private keysLoading: Promise<void> | undefined;
  private readonly sso: SsoSignIn | undefined;
  /** One connection pool for every provider built: they are rebuilt when keys rotate. */
  private readonly fetch: ReturnType<typeof createSafeFetch>;

  private constructor(private readonly options: AuthorizationServerOptions) {
    const { oauth } = options;
    this.users = new UserDirectory(options.store.users);
    const { shared } = options;
    const limiter = (name: string, l: { requestsPerSecond: number; burst: number }) =>
      shared ? shared.limiter(name, l) : new TokenBucketLimiter({ ratePerSecond: l.requestsPerSecond, burst: l.burst });
    this.signIns = limiter('sign-in', oauth.login.perIp);
    const backoff = { perAddress: oauth.login.backoff, perAccount: oauth.login.perAccount };
    this.signInThrottle = shared ? shared.signInThrottle(backoff) : new SignInThrottle(backoff);
    this.registrations = limiter('registration', oauth.registration.perIp);
    this.revocation = revocationContext(options.store, oauth.accessTokenTtl);
    // 64 KiB: jwks_uri documents with certificate chains exceed the 5 KiB a metadata document may have (the provider caps those itself).
    this.fetch = createSafeFetch({ maxBytes: 64 * 1024 });
    const companySignIn = options.issuers?.using('sso') ?? [];
    this.sso = companySignIn.length > 0
      ? new SsoSignIn({ issuer: options.issuer, idps: companySignIn, users: options.store.users, pending: shared?.pending<Pending>('sso') })
      : undefined;
    this.interactions = createInteractionHandler({
      provider: () => this.provider,
      users: this.users,
      policy: options.policy,
      scopes: options.authorization.scopes,
      resources: options.resources,
      csrfKey: () => createHash('sha256').update(`warden-csrf:${this.keys.cookieKeys[0]}`).digest(),
      loginLimiter: this.signIns,
      throttle: this.signInThrottle,
      sso: this.sso,
      localPasswords: oauth.localPasswords,
      revokeGrantsOf: (username) => this.revokeGrantsOf(username),
      clientIp: options.clientIp,
      record: (e) => options.audit(interactionRecord(e)),
    });
  }

  static async open(options: AuthorizationServerOptions): Promise<AuthorizationServer> {
    const server = new AuthorizationServer(options);
    await server.reloadKeys();
    return server;
  }

  /** Company sign-in for the admin console (sso.ts), when an issuer has `use: [sso]`. */
  get companySignIn(): CompanySignIn | undefined {
    const sso = this.sso;
    if (!sso) return undefined;
    return {
      labels: () => sso.labels(),
      start: (binding, n, res, back) => sso.start(binding, n, res, back),
      finish: async (binding, state) => {
        const outcome = await sso.finish(binding, state);
        if (outcome.rolesRemoved) await this.revokeGrantsOf(outcome.ok ? outcome.username : outcome.subject);
        return outcome;
      },
    };
  }

  private async revokeGrantsOf(username: string): Promise<void> {
    for (const grant of await this.options.store.oauth.list({ model: 'Grant', accountId: username }, Date.now())) await revokeGrant(this.revocation, grant.id);
  }

  /** The key of the gateway's DPoP nonces: the same one oidc-provider's are made with, shared by every instance. */
  dpopNonceSecret(): Buffer {
    return dpopNonceSecret(this.keys.cookieKeys[0]!);
  }

  /** Public JWKs that verify access tokens (the signing key and retired keys still published). */
  verificationKeys(): Record<string, unknown>[] {
    return this.keys.verification;
  }

  /**
   * Re-reads the keys from the store and rebuilds the provider when they changed (`warden keys
   * rotate-signing` in another process): oidc-provider's keystore is fixed at construction. Everything else
   * it holds lives in the store, so a rebuilt provider carries on where the old one was.
   */
  async reloadKeys(): Promise<void> {
    this.keysLoading ??= (async () => {
      const keys = await loadAuthorizationServerKeys(this.options.store.signingKeys, this.options.oauth.accessTokenTtl);
      if (keys.fingerprint === this.keys?.fingerprint) return;
      this.keys = keys;
      this.provider = this.buildProvider(keys);
      // Koa composes the middleware on every callback() call: once per provider, not per request.
      this.callback = this.provider.callback();
    })().finally(() => {
      this.keysLoading = undefined;
    });
    return this.keysLoading;
  }

  async close(): Promise<void> {
    await this.fetch.close();
  }

  handles(path: string): boolean {
    return path.startsWith('/oauth/') || DISCOVERY.has(path);
  }

  async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (path.startsWith(INTERACTION_PREFIX)) return this.interactions(req, res, path);
    if (path === SSO_CALLBACK && req.method === 'GET') {
      let known = false;
      try {
        known = (await this.sso?.callback(req, res)) ?? false;
      } catch (err) {
        if (!(err instanceof RedisUnavailableError)) throw err;
        res.writeHead(503, { ...PAGE_HEADERS, 'retry-after': '1' }).end(errorPage({ title: 'Sign-in could not continue', message: 'Company sign-in is unavailable for a moment. Go back to the app and start again shortly.' }));
        return;
      }
      if (known) return;
      res.writeHead(400, PAGE_HEADERS).end(errorPage({ title: 'Sign-in could not continue', message: 'This company sign-in expired or was already used. Go back to the app and start again.' }));
      return;
    }
    // RFC 8628 §5.1: user codes are short, so guessing them is limited like passwords (the sign-in budget per IP).
    if (path === OAUTH_ROUTES.code_verification && req.method === 'POST') {
      const verdict = await this.signIns.take(this.options.clientIp(req));
      if (!verdict.ok) {
        res.writeHead(429, { ...PAGE_HEADERS, 'retry-after': String(verdict.retryAfterSeconds) });
        res.end(errorPage({ title: 'Too many attempts', message: `Too many codes entered from your address; wait ${verdict.retryAfterSeconds} s and try again.` }));
        return;
      }
    }
    if (path === OAUTH_ROUTES.registration && req.method === 'POST') {
      const verdict = await this.registrations.take(this.options.clientIp(req));
      if (!verdict.ok) {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': String(verdict.retryAfterSeconds), 'cache-control': 'no-store' });
        res.end(JSON.stringify({ error: 'invalid_request', error_description: `too many client registrations from this address; retry in ${verdict.retryAfterSeconds} s` }));
        return;
      }
    }
    // RFC 8414 metadata is the same document as OpenID discovery for an issuer without a path.
    if (path === '/.well-known/oauth-authorization-server') req.url = `/.well-known/openid-configuration${req.url!.slice(path.length)}`;
    await withProviderContext(() => this.callback(req, res));
  }

  private buildProvider(keys: AuthorizationServerKeys): Provider {
    const { options } = this;
    const provider = createProvider({
      issuer: options.issuer,
      oauth: options.oauth,
      store: options.store,
      keys,
      resources: options.resources,
      proxy: options.trustProxy,
      fetch: this.fetch,
      mtls: options.mtls,
      activeUser: async (username) => {
        const user = await this.users.get(username);
        return user && user.disabledAt === null ? user : undefined;
      },
    });
    provider.use(this.structuredTokenEndpoints());
    if (options.issuers) {
      registerDelegatedGrants(provider, {
        issuer: options.issuer, issuers: options.issuers, oauth: options.oauth, roles: options.authorization.roles, resources: options.resources, replay: options.replay,
        certificate: options.mtls?.certificate,
      });
    }
    this.subscribe(provider);
    return provider;
  }

  /**
   * oidc-provider refuses to introspect or revoke JWT access tokens (they are not in its store). After it has
   * authenticated the client, this answers for them: introspection from the verified claims, revocation by
   * listing the token's jti, so that the resource side refuses it from the next request on.
   */
  private structuredTokenEndpoints() {
    return async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
      await next();
      await Promise.all(pendingWrites.get(ctx) ?? []);
      const route = ctx.oidc?.route;
      if ((route !== 'introspection' && route !== 'revocation') || ctx.status !== 400) return;
      if ((ctx.body as { error?: string } | undefined)?.error !== 'unsupported_token_type' || !ctx.oidc.client) return;
      const client = ctx.oidc.client;
      const claims = await this.options.checkAccessToken(String(ctx.oidc.params?.token ?? ''));
      // A public client may only ask about its own tokens (oidc-provider's rule for the tokens it stores).
      const mayAsk = claims !== undefined && (client.clientAuthMethod !== 'none' || claims.client_id === client.clientId);
      ctx.status = 200;
      ctx.set('cache-control', 'no-store');
      if (route === 'introspection') {
        ctx.body = mayAsk ? { ...claims, active: true, token_type: 'Bearer' } : { active: false };
        return;
      }
      ctx.body = '';
      if (mayAsk && claims.client_id === client.clientId && typeof claims.jti === 'string') {
        await listRevocation(this.revocation, 'jti', claims.jti);
        await this.options.audit({
          method: 'oauth.revoke', decision: 'allow', subject: String(claims.sub ?? client.clientId), clientId: client.clientId,
          credentialId: claims.jti, target: claims.jti, targetKind: 'token', reason: 'access token revoked by its client (RFC 7009)',
        });
      }
    };
  }

  private subscribe(provider: Provider): void {
    const { audit, log, mtls } = this.options;
    // The thumbprint the tokens were bound to, else the one of the certificate presented (a refused client authentication).
    const certificateOf = (ctx: KoaContextWithOIDC, bound?: string): { certificate?: string } => {
      if (bound) return { certificate: bound };
      const pem = mtls?.certificate(ctx);
      return pem ? { certificate: thumbprintOf(new X509Certificate(pem)) } : {};
    };
    const ipOf = (ctx: KoaContextWithOIDC) => this.options.clientIp(ctx.req);
    const report = (e: OAuthAuditEvent) => void audit(e).catch((err: Error) => log.error({ err: err.message }, 'could not record an authorization server event'));
    provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
      const { entities, client, params } = ctx.oidc;
      const token = entities.AccessToken ?? entities.ClientCredentials;
      const delegated = ctx.state.delegated as DelegatedClaims | undefined;
      report({
        method: 'oauth.token', decision: 'allow',
        subject: String((token as { accountId?: string } | undefined)?.accountId ?? client?.clientId ?? 'unknown'),
        ...(client ? { clientId: client.clientId } : {}),
        ...(delegated?.tenant ? { tenant: delegated.tenant } : {}),
        ...(typeof delegated?.act?.sub === 'string' ? { actor: delegated.act.sub } : {}),
        ...((token as { grantId?: string } | undefined)?.grantId ? { credentialId: (token as { grantId: string }).grantId } : {}),
        ...(token?.aud ? { target: String(token.aud) } : {}),
        reason: `issued by ${String(params?.grant_type ?? 'grant')}${token?.['x5t#S256'] ? ', bound to the client certificate' : ''}`,
        ip: ipOf(ctx),
        ...certificateOf(ctx, token?.['x5t#S256']),
      });
    });
    provider.on('grant.error', (ctx: KoaContextWithOIDC, err: { error?: string; error_description?: string; error_detail?: string }) => {
      // oidc-provider tells the client only "grant request is invalid"; what happened is in error_detail.
      const detail = err.error_detail ?? err.error_description ?? '';
      const reuse = detail === 'refresh token already used';
      const replay = /^(authorization code|device code) already consumed$/.test(detail);
      const grantId = ctx.oidc.entities.RefreshToken?.grantId;
      report({
        method: reuse ? 'oauth.refresh_reuse' : replay ? 'oauth.code_replay' : 'oauth.token', decision: 'deny',
        subject: String(ctx.oidc.entities.RefreshToken?.accountId ?? ctx.state.revokedAccount ?? ctx.oidc.client?.clientId ?? 'unknown'),
        ...(ctx.oidc.client ? { clientId: ctx.oidc.client.clientId } : {}),
        ...(grantId ? { credentialId: grantId } : {}),
        reason: reuse || replay
          ? `a used ${reuse ? 'refresh token' : 'code'} was presented again: the whole grant was revoked`
          : `${err.error ?? 'error'}: ${detail}`.slice(0, 300),
        ip: ipOf(ctx),
        ...certificateOf(ctx),
      });
    });
    provider.on('grant.revoked', (ctx: KoaContextWithOIDC, grantId: string) => {
      // Refresh tokens and codes are gone from the store already; the list covers the self-contained access tokens.
      // Awaited before the answer leaves (structuredTokenEndpoints), so the next request cannot outrun it.
      const listed = listRevocation(this.revocation, 'grant', grantId).catch((err: Error) => log.error({ err: err.message, grantId }, 'could not list a revoked grant'));
      (pendingWrites.get(ctx) ?? pendingWrites.set(ctx, []).get(ctx)!).push(listed);
      // The revocation endpoint and refresh-token reuse load the token, not the grant: its accountId names the user.
      const { entities } = ctx.oidc;
      const accountId = entities.Grant?.accountId ?? entities.RefreshToken?.accountId ?? entities.AccessToken?.accountId
        ?? entities.AuthorizationCode?.accountId ?? entities.DeviceCode?.accountId ?? (ctx.state.revokedAccount as string | undefined);
      report({
        method: 'oauth.revoke', decision: 'allow', subject: String(accountId ?? ctx.oidc.client?.clientId ?? 'unknown'),
        ...(ctx.oidc.client ? { clientId: ctx.oidc.client.clientId } : {}),
        credentialId: grantId, target: grantId, targetKind: 'grant', reason: `grant revoked (${ctx.oidc.route})`, ip: ipOf(ctx),
      });
    });
    provider.on('registration_create.success', (ctx: KoaContextWithOIDC, client: { clientId: string; clientName?: string }) => {
      report({
        method: 'oauth.register', decision: 'allow', subject: client.clientId, clientId: client.clientId, target: client.clientId, targetKind: 'client',
        reason: `client registered${client.clientName ? `: ${client.clientName.slice(0, 100)}` : ''}`, ip: ipOf(ctx),
      });
    });
    provider.on('server_error', (_ctx: KoaContextWithOIDC, err: Error) => log.error({ err: err.message }, 'authorization server error'));
  }
}

function interactionRecord(e: InteractionEvent): OAuthAuditEvent {
  return {
    method: `oauth.${e.action}`,
    decision: e.action === 'sign_in' || e.action === 'consent' ? 'allow' : 'deny',
    subject: e.subject,
    clientId: e.clientId,
    target: e.subject,
    targetKind: 'user',
    reason: e.reason,
    ip: e.ip,
    ...(e.userAgent ? { userAgent: e.userAgent } : {}),
  };
}
