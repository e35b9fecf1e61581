import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { isLoopbackHost, type WardenConfig } from '../config/index.js';
import { clientIp, isLoopbackClient } from '../shared/client-ip.js';
import { BearerAuthenticator, noAuthentication, type Authenticator, type BearerVerifier } from '../resource/authenticator.js';
import { CertificateAuthenticator, MtlsVerifier } from '../resource/mtls-authenticator.js';
import type { CertificateSources } from '../resource/client-certificate.js';
import { AuthenticationError } from '../resource/errors.js';
import { ApiKeyVerifier } from '../resource/api-key-authenticator.js';
import { AccessTokenVerifier } from '../resource/access-token-verifier.js';
import { DpopNonces, DpopVerifier } from '../resource/dpop.js';
import type { ChallengeSchemes } from './pipeline/authenticate.js';
import { IdpTokenVerifier } from '../resource/idp-token-verifier.js';
import { TrustedIssuers } from '../resource/trusted-issuers.js';
import { MountedAuthorizationServer } from '../authorization-server/mount.js';
import { IdentityTokenSigner } from '../credentials/index.js';
import { AuditMaintenance, type AuditRecord } from '../audit/index.js';
import { openParts, type GatewayOptions, type GatewayParts } from './parts.js';
import { App } from './app.js';
import { boundedServer } from './connections.js';
import { readCaBundle, readListenTls, secureContextOf } from './tls.js';
import { buildOriginPolicy } from './guards.js';
import { McpRoutes, PATHS } from './routes.js';
import { sendJson } from './respond.js';
import { httpPipeline } from './pipeline/index.js';
import { UpstreamIdentity } from './pipeline/identify.js';
import type { AdminSession } from '../admin/http/sessions.js';
import { AdminHttp } from '../admin/http/index.js';
import { liveToolLister } from './upstream-tools.js';
import { UserDirectory } from '../authorization-server/users.js';
import { SignInThrottle } from '../authorization-server/sign-in-throttle.js';
import { TokenBucketLimiter } from '../ratelimit/index.js';
import { DPOP_ALGORITHMS, DPOP_DEFAULTS, LOGIN_BACKOFF, LOGIN_PER_ACCOUNT, type DpopConfig } from '../config/index.js';

export type { GatewayOptions } from './parts.js';

export interface RunningGateway {
  /** The listening socket's base URL, e.g. http://127.0.0.1:8787 (https:// with listen.tls). */
  readonly url: string;
  /** What resource URLs and the issuer are named under: `publicUrl`, else `url`. */
  readonly publicBase: string;
  readonly server: Server;
  /** True from start until close() begins; what /readyz says. */
  readonly ready: boolean;
  /** Drains: refuses new work, lets answers in flight finish (up to http.shutdownGrace), flushes the audit log, stops children. */
  close(): Promise<void>;
  /**
   * Re-reads the signing keys from the store now (SIGHUP), instead of at the next minutely check, and the
   * listen.tls PEM files: new handshakes use them, open connections keep theirs.
   */
  reloadKeys(): Promise<void>;
}

/**
 * Starts a gateway. Resolves only when every part is mounted: the store open, keys loaded, the embedded
 * authorization server mounted, every upstream known, and the socket listening. Requests that arrive between
 * the socket opening and that moment wait (only /healthz and /readyz answer at once, /readyz with 503), so
 * no route ever answers from a half-built gateway.
 */
export async function startGateway(config: WardenConfig, options: GatewayOptions = {}): Promise<RunningGateway> {
  // Before anything opens, so that an unusable certificate stops start-up with nothing to close.
  const tls = config.listen.tls ? readListenTls(config.listen.tls) : undefined;
  const parts = await openParts(config, options);
  let app: App | undefined;
  let mounted!: (app: App | undefined) => void;
  const mounting = new Promise<App | undefined>((resolve) => (mounted = resolve));
  const server = boundedServer(config.http, (req, res) => {
    if (app) return app.listener(req, res);
    if (answerWhileStarting(req, res)) return;
    void mounting.then((ready) => (ready ? ready.listener(req, res) : res.writeHead(503, { connection: 'close' }).end()));
  }, tls);

  let mountedParts: Awaited<ReturnType<typeof mount>>;
  try {
    const address = await listen(server, config);
    mountedParts = await mount(parts, address, config.listen.tls ? 'https' : 'http');
  } catch (err) {
    mounted(undefined);
    server.close();
    await closeParts(parts);
    throw err;
  }
  app = mountedParts.app;
  mounted(app);
  const { url, publicBase, signer, authorizationServer, maintenance, issuers } = mountedParts;
  const running = app;
  let closing: Promise<void> | undefined;
  return {
    url,
    publicBase,
    server,
    get ready() {
      return running.ready;
    },
    async reloadKeys() {
      // A missing or broken PEM leaves the running context in place (read before set) and the keys are still reloaded.
      let tlsFailure: unknown;
      try {
        if (config.listen.tls) (server as unknown as TlsServer).setSecureContext(secureContextOf(readListenTls(config.listen.tls)));
      } catch (err) {
        tlsFailure = err;
      }
      await signer?.reload();
      await authorizationServer?.reloadKeys();
      if (tlsFailure) throw tlsFailure;
    },
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await running.drain(config.http.shutdownGrace);
        await Promise.all([...parts.upstreams.values()].map((u) => u.close()));
        server.closeAllConnections();
        await closed;
        await authorizationServer?.close();
        issuers?.close();
        await parts.audit.close();
        parts.policies?.close();
        await maintenance?.stop();
        if (parts.ownsStore) await parts.store!.close();
        await parts.shared.close();
      })();
      return closing;
    },
  };
}

/** Liveness answers at once; readiness says "starting" until everything is mounted. */
function answerWhileStarting(req: IncomingMessage, res: ServerResponse): boolean {
  const path = (req.url ?? '/').split('?')[0];
  if (path === PATHS.health) sendJson(res, 200, { status: 'ok' });
  else if (path === PATHS.ready) sendJson(res, 503, { status: 'starting' }, { 'retry-after': '1' });
  else return false;
  return true;
}

function listen(server: Server, config: WardenConfig): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host.replace(/^\[(.*)\]$/, '$1'), () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** Everything that needs the gateway's own URL (port 0 picks one at listen): built before the first route answers. */
async function mount(parts: GatewayParts, address: AddressInfo, scheme: 'http' | 'https') {
  const { config, store, scopes, log } = parts;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${scheme}://${host}:${address.port}`;
  const publicBase = (config.publicUrl ?? url).replace(/\/+$/, '');
  const routes = new McpRoutes(publicBase, [...parts.upstreams.keys()]);
  const originPolicy = buildOriginPolicy({
    port: address.port,
    loopback: isLoopbackHost(config.listen.host),
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
    allowedHosts: config.http.allowedHosts,
    allowedOrigins: config.http.allowedOrigins,
  });
  const ipOf = (req: IncomingMessage) => clientIp(req, config.http.trustProxy);
  // One reading of the certificate sources for the resource side and the authorization server: the same trust rules.
  const certificates = certificateSources(config);
  const signer = config.auth !== 'none' && store ? await IdentityTokenSigner.open(store.signingKeys, { issuer: publicBase }) : undefined;

  // Started before the authorization server, the one other part with timers, and stopped if that fails.
  const maintenance = store && (config.audit.retainDays > 0 || (config.audit.store && !parts.auditReplaced))
    ? await AuditMaintenance.start(store.audit, { retainDays: config.audit.retainDays, publishHead: config.audit.store && !parts.auditReplaced, instance: parts.instance }, log)
    : undefined;

  const verifiers: BearerVerifier[] = parts.apiKeys ? [new ApiKeyVerifier(parts.apiKeys)] : [];
  const oauth = config.auth !== 'none' ? config.auth.oauth : undefined;
  const jwt = config.auth !== 'none' ? config.auth.jwt : undefined;
  let issuers: TrustedIssuers | undefined;
  try {
    // Discovery of every company IdP: a wrong issuer stops start-up here, with the setting named.
    issuers = jwt ? await TrustedIssuers.open(jwt.issuers, log.child({ component: 'idp' })) : undefined;
  } catch (err) {
    await maintenance?.stop();
    throw err;
  }
  const delegated = issuers?.using('access-token') ?? [];
  // Whether any verifier takes DPoP proofs (the embedded AS's tokens, or IdP tokens with cnf.jkt), and how:
  // what 401 challenges and the protected resource metadata offer.
  const dpopMode = (oauth && store && scopes ? oauth.dpop.mode : undefined) ?? (delegated.length > 0 ? DPOP_DEFAULTS.mode : 'off');
  // Several instances share one replay cache (a proof used on one is refused on every other); one instance
  // keeps a cache of its own, bounded by replayCacheSize.
  const dpopVerifier = (settings: DpopConfig, nonces?: DpopNonces) => new DpopVerifier(settings, {
    ...(nonces ? { nonces } : {}),
    ...(parts.shared.kind === 'redis' ? { replays: parts.shared.replay('dpop') } : {}),
  });
  // Before the embedded AS's verifier, which would claim every JWT: a JWT goes to the IdP its iss names.
  if (delegated.length > 0) {
    // DPoP-bound IdP tokens (RFC 9449 cnf.jkt): their proofs checked like the embedded AS's, unless DPoP is
    // off here. Always `allowed`: `required` is about the embedded AS's tokens; IdP bearer tokens stay welcome.
    const settings = oauth?.dpop ?? DPOP_DEFAULTS;
    const dpop = settings.mode === 'off' ? undefined : dpopVerifier({ ...settings, mode: 'allowed', nonce: false });
    verifiers.push(new IdpTokenVerifier(delegated, { claimEveryJwt: !oauth, dpop }));
  }
  let authorizationServer: MountedAuthorizationServer | undefined;
  let dpopNonces: DpopNonces | undefined;
  if (oauth && store && scopes) {
    let tokens: AccessTokenVerifier | undefined;
    try {
      authorizationServer = await MountedAuthorizationServer.open({
        config, oauth, store, scopes, log, issuer: publicBase, audit: parts.audit, instance: parts.instance,
        endpoints: routes.endpoints(), sole: routes.at('/mcp')?.url,
        checkAccessToken: (token) => tokens!.introspect(token),
        issuers, certificates,
        replay: parts.shared.replay('idjag'),
        ...(parts.shared.kind === 'redis' ? { shared: parts.shared } : {}),
      });
    } catch (err) {
      issuers?.close();
      await maintenance?.stop();
      throw err;
    }
    const as = authorizationServer;
    if (oauth.dpop.mode !== 'off' && oauth.dpop.nonce) dpopNonces = new DpopNonces(() => as.dpopNonceSecret());
    const dpop = oauth.dpop.mode === 'off' ? undefined : dpopVerifier(oauth.dpop, dpopNonces);
    tokens = new AccessTokenVerifier({
      issuer: publicBase, keys: () => as.verificationKeys(), reloadKeys: () => as.reloadKeys(), revocations: store.revocations,
      ...(dpop ? { dpop } : {}),
    });
    verifiers.push(tokens);
  }
  const audiences = new Map<string, string[]>();
  for (const e of routes.endpoints()) audiences.set(e.upstream, [...(audiences.get(e.upstream) ?? []), e.url]);
  const identities = new Map(Object.entries(config.upstreams).map(([name, u]) => [name, new UpstreamIdentity(u, signer)]));
  const pipeline = httpPipeline({
    ...parts,
    originPolicy,
    maxBodyBytes: config.http.maxBodyBytes,
    bodyLimits: { maxDepth: config.http.maxJsonDepth, maxBatch: config.http.maxBatch },
    outcomes: config.audit.outcomes,
    clientIp: ipOf,
    authenticator: authenticatorFor(config, certificates, verifiers.length > 0 ? new BearerAuthenticator(verifiers) : undefined),
    audiences: (upstream) => audiences.get(upstream) ?? [],
    schemes: challengeSchemes(dpopMode, verifiers.length),
    ...(dpopNonces ? { dpopNonce: () => dpopNonces.current() } : {}),
    identities,
    requestStateKey: () => parts.shared.requestStateKey(),
  });
  // Both the admin console and the App answer clients on this machine with more detail.
  const isLocal = (req: IncomingMessage) => isLoopbackClient(req, config.http.trustProxy);
  const writeAudit = (record: AuditRecord) => parts.audit.write(record);
  const admin = config.admin && store ? new AdminHttp({
    backend: { config, store, recorder: writeAudit, sessions: parts.upstreams, liveTools: liveToolLister(config.upstreams, log) },
    users: new UserDirectory(store.users), apiKeys: parts.apiKeys, signIns: authorizationServer?.signInGuards ?? defaultSignInGuards(parts.shared),
    companySignIn: authorizationServer?.companySignIn,
    record: writeAudit, instance: parts.instance, secure: publicBase.startsWith('https:'),
    base: publicBase, clientIp: ipOf, isLocal, log: log.child({ component: 'admin' }),
    limiter: parts.shared.limiter('admin', config.admin.perIp),
    ...(parts.shared.kind === 'redis' ? { sessionStore: parts.shared.pending<AdminSession>('admin-session') } : {}),
  }) : undefined;
  const app = new App({
    routes, originPolicy, pipeline, authorizationServer, admin, clientIp: ipOf, log, isLocal,
    metricsAccess: { public: config.metrics.public, ...(config.metrics.token !== undefined ? { token: config.metrics.token } : {}) },
    documents: {
      routes, scopes, signer,
      // The embedded AS first: MCP clients use the first one they can, and it is the one that signs people in.
      authorizationServers: [...(authorizationServer ? [authorizationServer.issuer] : []), ...delegated.map((i) => i.issuer)],
      ...(dpopMode !== 'off' ? { dpop: { required: dpopMode === 'required', algs: DPOP_ALGORITHMS } } : {}),
    },
    issuers,
    upstreams: parts.upstreams, metrics: parts.metrics, limiters: parts.limiters,
    policies: parts.policies,
    shared: parts.shared.kind === 'redis' ? parts.shared : undefined,
    store: parts.store,
    pdp: config.authorization.cedar?.authzenApi ? { token: config.authorization.cedar.authzenApi.token, timeZone: config.authorization.cedar.timeZone } : undefined,
  });
  return { app, url, publicBase, signer, authorizationServer, maintenance, issuers };
}

/**
 * What a 401 offers: `DPoP` when access tokens may be DPoP-bound; `Bearer` unless DPoP is required and the
 * embedded AS's tokens are the only credential (API keys, and IdP tokens without cnf.jkt, are bearer credentials).
 */
function challengeSchemes(dpop: 'off' | 'allowed' | 'required', verifiers: number): ChallengeSchemes {
  if (dpop === 'off') return { bearer: true };
  return { bearer: dpop === 'allowed' || verifiers > 1, dpop: { algs: DPOP_ALGORITHMS } };
}

/**
 * Client certificates (listen.tls.clientCa, auth.mtls) in front of the bearer chain. Also without them: the
 * certificate authenticator is where a certificate-bound token is checked, and with no certificate to
 * present such a token must be refused, not taken as a bearer token.
 */
function authenticatorFor(config: WardenConfig, sources: CertificateSources, bearer: Authenticator | undefined): Authenticator {
  if (config.auth === 'none') return noAuthentication;
  const mtls = config.auth.mtls;
  // Authentication is on but nothing can check a credential (a config that skipped the load-time rules, e.g.
  // company IdPs for sign-in only, without auth.oauth): every caller is refused, never let in as anonymous.
  if (!bearer && !mtls && !config.listen.tls?.clientCa) return nobodyAuthenticates;
  return new CertificateAuthenticator(sources, mtls ? new MtlsVerifier(mtls) : undefined, bearer);
}

const nobodyAuthenticates: Authenticator = {
  mode: 'none-configured',
  authenticate: () => {
    throw new AuthenticationError('Unauthorized: authentication is on, but the configuration names no credential this gateway can check (auth.apiKeys, auth.oauth, auth.jwt with use: [access-token], auth.mtls)');
  },
};

/** The TLS peer's certificate (listen.tls.clientCa), and behind a proxy the header's, checked against auth.mtls.ca. */
function certificateSources(config: WardenConfig): CertificateSources {
  const mtls = config.auth !== 'none' ? config.auth.mtls : undefined;
  return {
    trustProxy: config.http.trustProxy,
    ...(mtls?.header && mtls.ca ? { header: { name: mtls.header, cas: readCaBundle(mtls.ca, 'auth.mtls.ca') } } : {}),
  };
}

/** Without the authorization server (API keys only), the console's sign-in gets the same guards with their default settings. */
function defaultSignInGuards(shared: GatewayParts['shared']) {
  return { perIp: shared.limiter('admin-sign-in', { requestsPerSecond: 0.5, burst: 10 }), throttle: shared.signInThrottle({ perAddress: LOGIN_BACKOFF, perAccount: LOGIN_PER_ACCOUNT }) };
}

async function closeParts(parts: GatewayParts): Promise<void> {
  await Promise.allSettled([...parts.upstreams.values()].map((u) => u.close()));
  await parts.audit.close().catch(() => {});
  parts.policies?.close();
  if (parts.ownsStore) await parts.store!.close().catch(() => {});
  await parts.shared.close().catch(() => {});
}
