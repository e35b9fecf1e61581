import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OAuthConfig, WardenConfig } from '../config/index.js';
import type { ScopePolicy } from '../policy/index.js';
import type { Store } from '../store/index.js';
import type { Logger } from '../shared/log.js';
import type { AuditRecord, AuditSink } from '../audit/index.js';
import { AccessTokenVerifier } from '../resource/access-token-verifier.js';
import type { AuthorizationServer, OAuthAuditEvent, ResourceCatalog } from '../authorization-server/index.js';
import { clientIp } from './guards.js';

export interface EmbeddedOAuthParts {
  config: WardenConfig;
  oauth: OAuthConfig;
  store: Store;
  scopes: ScopePolicy;
  audit: AuditSink;
  instance: string;
  upstreams: readonly string[];
  log: Logger;
}

/**
 * The gateway's side of the embedded authorization server: the verifier the pipeline uses from the start,
 * and the server itself, opened at listen (its issuer is the gateway's URL, known only then), with its
 * housekeeping (key reload, purge of expired records).
 */
export class EmbeddedOAuth {
  readonly verifier: AccessTokenVerifier;
  private server: AuthorizationServer | undefined;
  private resources: ResourceCatalog | undefined;
  private issuer = '';
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(private readonly parts: EmbeddedOAuthParts) {
    this.verifier = new AccessTokenVerifier({
      issuer: () => this.issuer,
      keys: () => this.server?.verificationKeys() ?? [],
      reloadKeys: async () => this.server?.reloadKeys(),
      revocations: parts.store.revocations,
    });
  }

  async open(issuer: string): Promise<void> {
    const { config, oauth, store, scopes, audit, instance, log } = this.parts;
    this.issuer = issuer;
    // Loaded only here: oidc-provider and Koa are a startup cost (and a runtime warning on Node 20) that a
    // gateway without OAuth should not pay.
    const { AuthorizationServer, ResourceCatalog } = await import('../authorization-server/index.js');
    this.resources = new ResourceCatalog(issuer, this.parts.upstreams, (u) => scopes.scopesFor(u));
    this.server = await AuthorizationServer.open({
      issuer,
      oauth,
      authorization: config.authorization,
      store,
      resources: this.resources,
      policy: scopes,
      log: log.child({ component: 'oauth' }),
      // The gateway does not terminate TLS itself: an https publicUrl means a TLS proxy in front, whose
      // X-Forwarded-Proto tells oidc-provider to mark its cookies Secure.
      trustProxy: config.http.trustProxy > 0 || config.publicUrl?.startsWith('https:') === true,
      clientIp: (req) => clientIp(req, config.http.trustProxy),
      audit: (e) => audit.write(oauthRecord(e, instance)),
      checkAccessToken: async (token) => this.verifier.introspect(token),
    });
    // Follows `warden keys rotate-signing` run in another process.
    this.every(60_000, () => this.server!.reloadKeys(), 'could not reload the authorization server keys');
    // Expired codes, tokens, sessions and revocation entries are dead weight.
    const purge = async () => {
      const now = Date.now();
      const removed = (await store.oauth.purgeExpired(now)) + (await store.revocations.purgeExpired(now));
      if (removed > 0) log.debug({ removed }, 'purged expired OAuth records');
    };
    await purge();
    this.every(3_600_000, purge, 'could not purge expired OAuth records');
  }

  private every(ms: number, work: () => Promise<unknown>, failure: string): void {
    const timer = setInterval(() => void work().catch((err: Error) => this.parts.log.error({ err: err.message }, failure)), ms);
    timer.unref();
    this.timers.push(timer);
  }

  /** The issuer to name in resource metadata, once open. */
  authorizationServer(): string | undefined {
    return this.server ? this.issuer : undefined;
  }

  /** The resource URLs of an upstream: an access token's audience must be one of them. */
  audiences(upstream: string): readonly string[] {
    return this.resources?.urlsOf(upstream) ?? [];
  }

  handles(path: string): boolean {
    return this.server?.handles(path) ?? false;
  }

  handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    return this.server!.handle(req, res, path);
  }

  async reloadKeys(): Promise<void> {
    await this.server?.reloadKeys();
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.server?.close();
  }
}

function oauthRecord(e: OAuthAuditEvent, instance: string): AuditRecord {
  return {
    ts: new Date().toISOString(),
    instance,
    event: 'oauth',
    requestId: randomUUID(),
    subject: e.subject,
    ...(e.clientId ? { clientId: e.clientId } : {}),
    credential: { kind: 'oauth', id: e.credentialId ?? '-' },
    method: e.method,
    ...(e.target ? { target: e.target } : {}),
    ...(e.targetKind ? { targetKind: e.targetKind } : {}),
    decision: e.decision,
    reason: e.reason,
    ...(e.ip ? { ip: e.ip } : {}),
    ...(e.userAgent ? { userAgent: e.userAgent } : {}),
  };
}
