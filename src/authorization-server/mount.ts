import type { IncomingMessage, ServerResponse } from 'node:http';
import { oauthMtlsOf, type OAuthConfig, type WardenConfig } from '../config/index.js';
import type { CertificateSources } from '../resource/client-certificate.js';
import type { ScopePolicy } from '../policy/index.js';
import type { Store } from '../store/index.js';
import type { Logger } from '../shared/log.js';
import { clientIp } from '../shared/client-ip.js';
import { oauthRecord, type AuditSink } from '../audit/index.js';
import type { AccessTokenCheck, AuthorizationServer, AuthorizationServerOptions } from './server.js';
import type { ResourceCatalog } from './resources.js';

export interface MountOptions {
  config: WardenConfig;
  oauth: OAuthConfig;
  /** The gateway's public origin: the issuer, and the base of every endpoint. */
  issuer: string;
  store: Store;
  scopes: ScopePolicy;
  audit: AuditSink;
  instance: string;
  /** Every MCP endpoint's resource URL and upstream; `sole`, the resource a request without one gets. */
  endpoints: readonly { url: string; upstream: string }[];
  sole: string | undefined;
  checkAccessToken: AccessTokenCheck;
  /** Company IdPs, for token exchange and ID-JAG. */
  issuers?: AuthorizationServerOptions['issuers'];
  /** Where client certificates come from (the same as the resource side's), for RFC 8705. */
  certificates: CertificateSources;
  /** ID-JAG ids being redeemed: shared by all instances when Redis is configured. */
  replay?: AuthorizationServerOptions['replay'];
  /** Sign-in and registration limits and the sign-in back-off, shared by all instances with Redis. */
  shared?: AuthorizationServerOptions['shared'];
  log: Logger;
}

/**
 * The embedded authorization server as the gateway mounts it: opened once, with its issuer known, before the
 * gateway answers its first request; with its housekeeping (key reload, purge of expired records).
 */
export class MountedAuthorizationServer {
  private readonly timers: NodeJS.Timeout[] = [];

  private constructor(
    readonly issuer: string,
    private readonly server: AuthorizationServer,
    /** The resources tokens are issued for: an access token's audience must be one of an upstream's. */
    readonly resources: ResourceCatalog,
    private readonly log: Logger,
  ) {}

  static async open(options: MountOptions): Promise<MountedAuthorizationServer> {
    const { config, oauth, issuer, store, scopes, audit, instance, log } = options;
    // Loaded only here: oidc-provider and Koa are a startup cost (and a runtime warning on Node 20) that a
    // gateway without OAuth should not pay.
    const { AuthorizationServer } = await import('./server.js');
    const { ResourceCatalog } = await import('./resources.js');
    const { mtlsParts } = await import('./mtls.js');
    const mtls = oauthMtlsOf(config);
    const resources = new ResourceCatalog(options.endpoints, (u) => scopes.scopesFor(u), options.sole);
    const server = await AuthorizationServer.open({
      issuer,
      oauth,
      authorization: config.authorization,
      store,
      resources,
      policy: scopes,
      log: log.child({ component: 'oauth' }),
      // The gateway does not terminate TLS itself: an https publicUrl means a TLS proxy in front, whose
      // X-Forwarded-Proto tells oidc-provider to mark its cookies Secure.
      trustProxy: config.http.trustProxy > 0 || config.publicUrl?.startsWith('https:') === true,
      clientIp: (req) => clientIp(req, config.http.trustProxy),
      audit: (e) => audit.write(oauthRecord(e, instance)),
      checkAccessToken: options.checkAccessToken,
      issuers: options.issuers,
      ...(mtls ? { mtls: mtlsParts(mtls, options.certificates) } : {}),
      replay: options.replay,
      shared: options.shared,
    });
    const mounted = new MountedAuthorizationServer(issuer, server, resources, log);
    // Follows `warden keys rotate-signing` run in another process.
    mounted.every(60_000, () => server.reloadKeys(), 'could not reload the authorization server keys');
    // Expired codes, tokens, sessions and revocation entries are dead weight.
    const purge = async () => {
      const now = Date.now();
      const removed = (await store.oauth.purgeExpired(now)) + (await store.revocations.purgeExpired(now));
      if (removed > 0) log.debug({ removed }, 'purged expired OAuth records');
    };
    await purge();
    mounted.every(3_600_000, purge, 'could not purge expired OAuth records');
    return mounted;
  }

  private every(ms: number, work: () => Promise<unknown>, failure: string): void {
    const timer = setInterval(() => void work().catch((err: Error) => this.log.error({ err: err.message }, failure)), ms);
    timer.unref();
    this.timers.push(timer);
  }

  /** The keys access tokens are verified with. */
  verificationKeys(): ReturnType<AuthorizationServer['verificationKeys']> {
    return this.server.verificationKeys();
  }

  /** The key of DPoP nonces (follows a cookie-key rotation). */
  dpopNonceSecret(): Buffer {
    return this.server.dpopNonceSecret();
  }

  /** The sign-in limit per IP and the per-username back-off, for other sign-in pages (the admin console) to share. */
  get signInGuards(): { perIp: AuthorizationServer['signIns']; throttle: AuthorizationServer['signInThrottle'] } {
    return { perIp: this.server.signIns, throttle: this.server.signInThrottle };
  }

  /** Company sign-in (auth.jwt.issuers[].use: [sso]) for the admin console's sign-in page. */
  get companySignIn(): AuthorizationServer['companySignIn'] {
    return this.server.companySignIn;
  }

  handles(path: string): boolean {
    return this.server.handles(path);
  }

  handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    return this.server.handle(req, res, path);
  }

  async reloadKeys(): Promise<void> {
    await this.server.reloadKeys();
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.server.close();
  }
}
