import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../shared/log.js';
import { GatewayError, isGatewayError } from '../shared/errors.js';
import { parseJsonRpcBody } from '../shared/jsonrpc.js';
import { isLoopbackHost, type WardenConfig } from '../config/index.js';
import { BearerAuthenticator, noAuthentication, type Authenticator, type BearerVerifier } from '../resource/authenticator.js';
import { ApiKeyVerifier } from '../resource/api-key-authenticator.js';
import { EmbeddedOAuth } from './oauth.js';
import { AllowList, ScopePolicy } from '../policy/index.js';
import { TokenBucketLimiter } from '../ratelimit/index.js';
import { openStore, type Store } from '../store/index.js';
import { ApiKeys, IdentityTokenSigner } from '../credentials/index.js';
import {
  AuditChainWriter, AuditTrail, JsonlFileSink, LogSink, StdoutSink, auditInstance, redactArguments, toAuditRecord, type AuditSink,
} from '../audit/index.js';
import { sendGatewayError, sendJson, soleRequestId, type Exchange } from './exchange.js';
import { buildOriginPolicy, checkHost, checkOrigin, clientIp, corsHeaders, preflightHeaders, readBody, requestPath, type OriginPolicy } from './guards.js';
import { buildPipeline, runPipeline, tooMany, type Limiters, type Step } from './pipeline.js';
import { UpstreamIdentity } from './identity.js';
import { serveWellKnown } from './well-known.js';
import { HttpUpstream } from './http-upstream.js';
import { StdioUpstream } from './stdio-upstream.js';
import type { Upstream } from './upstream.js';
import { GatewayMetrics } from './metrics.js';

export interface GatewayOptions {
  log: Logger;
  /** Replaces the sinks the config names (tests, embedding). */
  audit?: AuditSink;
  /** Replaces the store the config names (tests, embedding); the gateway does not close it. */
  store?: Store;
}

export interface Gateway {
  readonly server: Server;
  /** Starts listening; resolves with the bound address (port 0 picks a free one). */
  listen(): Promise<AddressInfo>;
  /** Base URL, e.g. http://127.0.0.1:8787, once listening. */
  readonly url: string;
  /** Graceful stop: refuse new work, let in-flight requests finish (up to http.shutdownGrace), end children. */
  close(): Promise<void>;
  /** Re-reads the signing keys from the store now (SIGHUP), instead of at the next minutely check. */
  reloadKeys(): Promise<void>;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

export function createGateway(config: WardenConfig, options: GatewayOptions): Gateway {
  const log = options.log;
  const upstreams = new Map<string, Upstream>();
  const allowLists = new Map<string, AllowList>();
  for (const [name, u] of Object.entries(config.upstreams)) {
    upstreams.set(name, u.url ? new HttpUpstream(name, { ...u, url: u.url }, log) : new StdioUpstream(name, { ...u, command: u.command! }, log));
    if (u.allow) allowLists.set(name, new AllowList(u.allow));
  }
  const authOn = config.auth !== 'none';
  const oauth = config.auth !== 'none' ? config.auth.oauth : undefined;
  const instance = auditInstance(config.audit.instance);
  // The store holds keys, signing keys and the audit chain: opened when one of them is in use.
  const needsStore = authOn || (config.audit.store && !options.audit);
  const store = needsStore ? options.store ?? openStore(config) : undefined;
  const audit = options.audit ?? buildAuditTrail(config, store, log);
  const keys = config.auth !== 'none' && config.auth.apiKeys && store ? new ApiKeys(store.apiKeys, {
    onTouchError: (err, keyId) => log.warn({ keyId, err: (err as Error).message }, 'could not record when an API key was last used'),
  }) : undefined;
  const scopes = authOn ? new ScopePolicy(config.authorization) : undefined;
  /** The embedded authorization server; its verifier is in the chain from the start, the server opens at listen. */
  const oauthSide = oauth && store && scopes ? new EmbeddedOAuth({
    config, oauth, store, scopes, audit, instance, upstreams: [...upstreams.keys()], log,
  }) : undefined;
  const verifiers: BearerVerifier[] = [...(keys ? [new ApiKeyVerifier(keys)] : []), ...(oauthSide ? [oauthSide.verifier] : [])];
  const authenticator: Authenticator = verifiers.length > 0 ? new BearerAuthenticator(verifiers) : noAuthentication;
  const identities = new Map<string, UpstreamIdentity>();
  let signer: IdentityTokenSigner | undefined;
  const limiters = buildLimiters(config);
  const steps: Step[] = buildPipeline({
    authenticator,
    allowLists,
    ...(scopes ? { scopes } : {}),
    limiters,
    audit,
    instance,
    ...(config.audit.arguments.enabled ? { recordArguments: argumentRecorder(config) } : {}),
    identities,
    upstreams,
    audiences: (upstream) => oauthSide?.audiences(upstream) ?? [],
    log,
  });
  const metrics = config.metrics.enabled ? new GatewayMetrics(upstreams) : undefined;
  const soleUpstream = upstreams.size === 1 ? [...upstreams.keys()][0] : undefined;

  let originPolicy: OriginPolicy | undefined;
  let baseUrl = '';
  /** What resource URLs and the identity issuer are named under: publicUrl, else the listen address. Set by listen(). */
  let publicBase = '';
  const wellKnown = {
    base: () => publicBase, upstreams: [...upstreams.keys()], soleUpstream, scopes, signer: () => signer,
    authorizationServer: () => oauthSide?.authorizationServer(),
  };
  let draining = false;
  const inFlight = new Set<Promise<void>>();

  const server = createServer({ requestTimeout: 0, headersTimeout: 30_000 }, (req, res) => {
    const work = handle(req, res);
    if (req.method === 'POST') {
      inFlight.add(work);
      void work.finally(() => inFlight.delete(work));
    }
  });
  server.keepAliveTimeout = 65_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const header = req.headers['x-request-id'];
    const requestId = typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
    res.setHeader('x-request-id', requestId);
    let ex: Exchange | undefined;
    let path = '';
    let cors: Record<string, string> = {};
    try {
      if (draining) {
        res.setHeader('connection', 'close');
        throw new GatewayError('shutting_down', 'The gateway is shutting down; retry against another instance or in a moment', { 'retry-after': '5' });
      }
      path = requestPath(req.url);
      if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
      if (path === '/readyz') return sendJson(res, 200, { status: 'ready', upstreams: Object.fromEntries([...upstreams].map(([n, u]) => [n, u.status()])) });
      checkHost(req, originPolicy!);
      if (oauthSide?.handles(path)) {
        // The authorization server spends the same per-IP budget as MCP requests (on top of its own
        // registration and sign-in limits): its token endpoint is the most expensive thing a stranger can call.
        const ip = clientIp(req, config.http.trustProxy);
        const verdict = limiters.ip?.take(ip);
        if (verdict && !verdict.ok) throw tooMany(`from ${ip}`, verdict.retryAfterSeconds);
        return await oauthSide.handle(req, res, path);
      }
      if (req.method === 'GET' && serveWellKnown(path, res, wellKnown)) return;
      if (path === '/metrics' && metrics) {
        res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' });
        res.end(await metrics.registry.metrics());
        return;
      }
      const origin = checkOrigin(req, originPolicy!);
      cors = corsHeaders(origin);
      const upstreamName = path === '/mcp' ? soleUpstream : path.startsWith('/mcp/') ? path.slice(5) : undefined;
      if (upstreamName === undefined || !upstreams.has(upstreamName)) {
        const known = [...upstreams.keys()].map((n) => `/mcp/${n}`).join(', ');
        throw new GatewayError('not_found', `Not found: ${path.slice(0, 200)}; MCP endpoints here: ${known}${soleUpstream ? ' and /mcp' : ''}`);
      }
      if (req.method === 'OPTIONS') {
        if (!origin) throw new GatewayError('method_not_allowed', 'OPTIONS is for browser preflight requests, which carry an Origin header');
        res.writeHead(204, preflightHeaders(origin)).end();
        return;
      }
      if (req.method !== 'POST' && req.method !== 'GET' && req.method !== 'DELETE') {
        res.setHeader('allow', 'GET, POST, DELETE');
        throw new GatewayError('method_not_allowed', 'Method not allowed: MCP endpoints take POST, GET and DELETE');
      }
      ex = {
        req, res, requestId, upstreamName,
        ip: clientIp(req, config.http.trustProxy),
        resource: `${publicBase}${path}`,
        responseHeaders: { ...cors, 'x-request-id': requestId },
      };
      if (req.method === 'POST') await readMessages(ex);
      await runPipeline(steps, ex);
    } catch (err) {
      answerError(res, err, ex, cors, requestId);
    } finally {
      logAccess(req, res, ex, path, requestId, started);
    }
  }

  async function readMessages(ex: Exchange): Promise<void> {
    const type = String(ex.req.headers['content-type'] ?? '');
    if (!/^application\/json\b/i.test(type)) {
      throw new GatewayError('unsupported_media_type', 'Unsupported Media Type: POST a JSON-RPC message with Content-Type: application/json');
    }
    try {
      ex.body = await readBody(ex.req, config.http.maxBodyBytes);
    } catch (err) {
      // Do not read the rest of an oversized body: answer and close the connection.
      if (isGatewayError(err) && err.code === 'payload_too_large') ex.res.setHeader('connection', 'close');
      throw err;
    }
    const parsed = parseJsonRpcBody(ex.body);
    ex.messages = parsed.messages;
    ex.batch = parsed.batch;
  }

  let retention: NodeJS.Timeout | undefined;
  let headPublishing: NodeJS.Timeout | undefined;
  /**
   * Logs the audit chain's head (seq and hash) at start, hourly and at shutdown. The log goes elsewhere (a
   * shipper, a SIEM), and a head kept outside the store is what `warden audit verify --expect` checks against:
   * the one thing that shows records cut from the end of the chain.
   */
  async function publishHead(s: Store): Promise<void> {
    const head = await s.audit.head();
    log.info({ auditHead: `${head.seq}:${head.hash}` }, 'audit chain head');
  }
  async function startHeadPublishing(s: Store): Promise<void> {
    await publishHead(s);
    headPublishing = setInterval(() => void publishHead(s).catch((err: Error) => log.error({ err: err.message }, 'could not read the audit chain head')), 3_600_000);
    headPublishing.unref();
  }
  async function startRetention(s: Store): Promise<void> {
    const prune = async () => {
      const removed = await s.audit.prune(Date.now() - config.audit.retainDays * 86_400_000);
      if (removed > 0) log.info({ removed, retainDays: config.audit.retainDays }, 'pruned old audit records');
    };
    await prune();
    retention = setInterval(() => void prune().catch((err: Error) => log.error({ err: err.message }, 'audit retention failed')), 3_600_000);
    retention.unref();
  }

  function answerError(res: ServerResponse, err: unknown, ex: Exchange | undefined, cors: Record<string, string>, requestId: string): void {
    let failure: GatewayError;
    if (isGatewayError(err)) {
      failure = err;
    } else {
      log.error({ requestId, err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'unexpected error');
      failure = new GatewayError('internal_error', `Internal error; the gateway log has details under request id ${requestId}`);
    }
    if (ex) ex.outcomeError = failure.code;
    sendGatewayError(res, failure, soleRequestId(ex?.messages), cors);
    if (res.getHeader('connection') === 'close') res.once('finish', () => res.socket?.destroySoon?.());
  }

  function logAccess(req: IncomingMessage, res: ServerResponse, ex: Exchange | undefined, path: string, requestId: string, started: number): void {
    const write = () => {
      const rpc = ex?.messages?.map((m) => ('method' in m ? m.method : 'response'));
      const ms = performance.now() - started;
      log.info({ requestId, method: req.method, path, status: res.statusCode, ms: Math.round(ms * 10) / 10, ip: ex?.ip, ...(rpc ? { rpc } : {}) }, 'request');
      if (ex?.forwarded) recordOutcome(ex, res, ms);
      if (path.startsWith('/mcp')) {
        metrics?.observe({ upstream: ex?.upstreamName, httpMethod: req.method ?? '', status: res.statusCode, seconds: ms / 1000, decisions: ex?.decisions ?? [] });
      }
    };
    if (res.writableFinished || res.destroyed) write();
    else res.once('close', write);
  }

  /** After the answer: how an exchange that reached the upstream ended, chained after its decisions. */
  function recordOutcome(ex: Exchange, res: ServerResponse, ms: number): void {
    const allowed = ex.decisions?.find((d) => d.decision === 'allow');
    if (!allowed) return;
    const record = toAuditRecord({ ...allowed, reason: res.writableFinished ? 'answered' : 'connection closed before the answer ended' }, instance);
    record.event = 'outcome';
    delete record.arguments;
    record.status = res.statusCode;
    record.latencyMs = Math.round(ms * 10) / 10;
    const error = ex.outcomeError ?? (res.writableFinished ? undefined : 'client_closed');
    if (error) record.error = error;
    audit.write(record).catch((err: Error) => log.error({ requestId: ex.requestId, err: err.message }, 'could not record the outcome of a call'));
  }

  return {
    server,
    get url() {
      return baseUrl;
    },
    async listen() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.listen.port, config.listen.host.replace(/^\[(.*)\]$/, '$1'), () => {
          server.off('error', reject);
          resolve();
        });
      });
      const address = server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      baseUrl = `http://${host}:${address.port}`;
      publicBase = (config.publicUrl ?? baseUrl).replace(/\/+$/, '');
      originPolicy = buildOriginPolicy({
        port: address.port,
        loopback: isLoopbackHost(config.listen.host),
        ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
        allowedHosts: config.http.allowedHosts,
        allowedOrigins: config.http.allowedOrigins,
      });
      // The identity signer's issuer is the gateway's URL, known only now (port 0 picks one).
      if (authOn && store) signer = await IdentityTokenSigner.open(store.signingKeys, { issuer: publicBase });
      await oauthSide?.open(publicBase);
      if (store && config.audit.retainDays > 0) await startRetention(store);
      if (store && config.audit.store && !options.audit) await startHeadPublishing(store);
      for (const [name, u] of Object.entries(config.upstreams)) identities.set(name, new UpstreamIdentity(u, signer));
      return address;
    },
    async reloadKeys() {
      await signer?.reload();
      await oauthSide?.reloadKeys();
    },
    async close() {
      if (draining) return;
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = new Promise<void>((resolve) => setTimeout(resolve, config.http.shutdownGrace).unref());
      await Promise.race([Promise.allSettled([...inFlight]), grace]);
      await Promise.all([...upstreams.values()].map((u) => u.close()));
      server.closeAllConnections();
      await closed;
      clearInterval(retention);
      await oauthSide?.close();
      clearInterval(headPublishing);
      await audit.close();
      if (headPublishing && store) await publishHead(store).catch(() => {});
      if (store && !options.store) await store.close();
    },
  };
}

function buildLimiters({ rateLimit }: WardenConfig): Limiters {
  const make = (l: WardenConfig['rateLimit']['perIp']) => (l ? new TokenBucketLimiter({ ratePerSecond: l.requestsPerSecond, burst: l.burst }) : undefined);
  const all = { ip: make(rateLimit.perIp), principal: make(rateLimit.perPrincipal), key: make(rateLimit.perKey) };
  return Object.fromEntries(Object.entries(all).filter(([, limiter]) => limiter)) as Limiters;
}

function buildAuditTrail(config: WardenConfig, store: Store | undefined, log: Logger): AuditTrail {
  const sinks: AuditSink[] = [];
  if (config.audit.file) sinks.push(new JsonlFileSink(config.audit.file));
  if (config.audit.stdout) sinks.push(new StdoutSink());
  if (config.audit.log) sinks.push(new LogSink(log.child({ component: 'audit' })));
  return new AuditTrail(config.audit.store && store ? new AuditChainWriter(store.audit) : undefined, sinks);
}

function argumentRecorder(config: WardenConfig): (args: unknown) => unknown {
  const { redactKeys, maxBytes } = config.audit.arguments;
  return (args) => redactArguments(args, { keys: redactKeys, maxBytes });
}
