import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { presentsBearer } from '../shared/constant-time.js';
import type { Logger } from '../shared/log.js';
import { GatewayError, isGatewayError } from '../shared/errors.js';
import { StoreError } from '../store/types.js';
import type { MountedAuthorizationServer } from '../authorization-server/mount.js';
import type { TrustedIssuers } from '../resource/trusted-issuers.js';
import { checkHost, checkOrigin, preflightHeaders, requestPath, type OriginPolicy } from './guards.js';
import { sendGatewayError, sendJson } from './respond.js';
import { serveDocument, type DocumentParts } from './documents.js';
import { PATHS, type McpRoutes } from './routes.js';
import type { GatewayMetrics } from './metrics.js';
import type { Upstream } from './upstreams/upstream.js';
import { tooMany, type Finished, type Limiters, type Pipeline } from './pipeline/index.js';
import { EVALUATION_PATH } from '../policy/cedar/authzen.js';
import type { Policies } from '../policy/cedar/policies.js';
import { AuthZenEndpoint } from './authzen-endpoint.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

export interface AppParts {
  routes: McpRoutes;
  originPolicy: OriginPolicy;
  pipeline: Pipeline;
  documents: DocumentParts;
  authorizationServer: MountedAuthorizationServer | undefined;
  /** Company IdPs, whose key health /readyz shows to local clients. */
  issuers?: TrustedIssuers | undefined;
  /** The admin console and API (/admin), when `admin` is configured. */
  admin: { handles(path: string): boolean; handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> } | undefined;
  upstreams: ReadonlyMap<string, Upstream>;
  metrics: GatewayMetrics | undefined;
  limiters: Limiters;
  clientIp(req: IncomingMessage): string;
  /** True for a client on this machine (what may see /readyz details and, without a token, /metrics). */
  isLocal(req: IncomingMessage): boolean;
  /** Who may read /metrics besides local clients: anyone (`public`), or whoever sends this bearer token. */
  metricsAccess: { public: boolean; token?: string };
  log: Logger;
  /** Shown in /readyz to loopback callers; its Cedar set answers /access/v1/evaluation when `pdp` is set. */
  policies?: Policies | undefined;
  pdp?: { token: string; timeZone: string } | undefined;
  /** State shared with other instances (Redis): while it cannot be trusted, /readyz is 503. */
  shared?: { healthy(): boolean; status(): Promise<Record<string, unknown>> } | undefined;
  /** The store (keys, audit): while it does not answer, /readyz is 503. */
  store?: { ping(): Promise<void> } | undefined;
}

/**
 * The gateway's answer to every HTTP request, built only once everything it needs is mounted: the edge
 * (request id, draining, path, Host), the routes that are not MCP (health, the authorization server, public
 * documents, metrics), and for an MCP endpoint the pipeline. Errors become JSON-RPC error answers.
 */
export class App {
  private draining = false;
  private readonly inFlight = new Set<Promise<void>>();

  private readonly pdp: AuthZenEndpoint | undefined;

  constructor(private readonly parts: AppParts) {
    this.pdp = parts.pdp && parts.policies?.engine ? new AuthZenEndpoint(parts.policies.engine, parts.pdp.token, parts.pdp.timeZone) : undefined;
  }

  get ready(): boolean {
    return !this.draining;
  }

  /** Node's request listener. */
  readonly listener = (req: IncomingMessage, res: ServerResponse): void => {
    const work = this.handle(req, res);
    if (req.method === 'POST') {
      this.inFlight.add(work);
      void work.finally(() => this.inFlight.delete(work));
    }
  };

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const header = req.headers['x-request-id'];
    const requestId = typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
    res.setHeader('x-request-id', requestId);
    const finished: Finished = {
      req, res, requestId, path: '', started: performance.now(), answerId: null, answerHeaders: {},
      trace: { decisions: [], forwarded: undefined, error: undefined },
    };
    const { parts } = this;
    parts.pipeline.afterward(finished);
    try {
      if (this.draining) {
        res.setHeader('connection', 'close');
        throw new GatewayError('shutting_down', 'The gateway is shutting down; retry against another instance or in a moment', { 'retry-after': '5' });
      }
      const path = (finished.path = requestPath(req.url));
      if (path === PATHS.health) return sendJson(res, 200, { status: 'ok' });
      checkHost(req, parts.originPolicy);
      // Ready or not is for anyone (load balancers); what is behind the gateway only for this machine.
      if (path === PATHS.ready) return await this.answerReadiness(req, res);
      if (parts.admin?.handles(path)) return await parts.admin.handle(req, res, path);
      if (parts.authorizationServer?.handles(path)) {
        // The authorization server spends the same per-IP budget as MCP requests (on top of its own
        // registration and sign-in limits): its token endpoint is the most expensive thing a stranger can call.
        const ip = parts.clientIp(req);
        const verdict = await parts.limiters.ip?.take(ip);
        if (verdict && !verdict.ok) throw tooMany(`from ${ip}`, verdict.retryAfterSeconds);
        return await parts.authorizationServer.handle(req, res, path);
      }
      if (path === EVALUATION_PATH && this.pdp) {
        const verdict = await parts.limiters.ip?.take(parts.clientIp(req));
        if (verdict && !verdict.ok) throw tooMany(`from ${parts.clientIp(req)}`, verdict.retryAfterSeconds);
        return await this.pdp.handle(req, res);
      }
      if (req.method === 'GET' && serveDocument(path, res, parts.documents)) return;
      if (path === PATHS.metrics && parts.metrics) {
        this.checkMetricsAccess(req);
        res.writeHead(200, { 'content-type': parts.metrics.registry.contentType, 'cache-control': 'no-store' });
        res.end(await parts.metrics.registry.metrics());
        return;
      }
      const endpoint = parts.routes.at(path);
      if (!endpoint) throw new GatewayError('not_found', `Not found: ${path.slice(0, 200)}; MCP endpoints here: ${parts.routes.describe()}`);
      if (req.method === 'OPTIONS') return this.preflight(req, res);
      await parts.pipeline.run(req, res, { upstream: endpoint.upstream, resource: endpoint.url }, finished);
    } catch (err) {
      this.answerError(res, err, finished);
    }
  }

  private checkMetricsAccess(req: IncomingMessage): void {
    const { metricsAccess, isLocal } = this.parts;
    if (metricsAccess.public || isLocal(req)) return;
    if (metricsAccess.token !== undefined && presentsBearer(req.headers.authorization, metricsAccess.token)) return;
    throw new GatewayError('forbidden', metricsAccess.token !== undefined
      ? 'Forbidden: /metrics needs the scrape token (Authorization: Bearer <metrics.token>)'
      : 'Forbidden: /metrics answers only clients on this machine; set metrics.token for a remote scraper');
  }

  private preflight(req: IncomingMessage, res: ServerResponse): void {
    const origin = checkOrigin(req, this.parts.originPolicy);
    if (!origin) throw new GatewayError('method_not_allowed', 'OPTIONS is for browser preflight requests, which carry an Origin header');
    const requested = req.headers['access-control-request-headers'];
    res.writeHead(204, preflightHeaders(origin, typeof requested === 'string' ? requested : undefined)).end();
  }

  /**
   * Ready unless the store does not answer or shared state (Redis) cannot be trusted: then 503, so a load
   * balancer sends traffic elsewhere.
   */
  private async answerReadiness(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { shared, store, isLocal } = this.parts;
    const storeUp = store ? await store.ping().then(() => true, () => false) : true;
    const sharedUp = shared?.healthy() ?? true;
    const healthy = storeUp && sharedUp;
    const status = !storeUp ? 'store_unavailable' : sharedUp ? 'ready' : 'shared_state_unavailable';
    if (!isLocal(req)) return sendJson(res, healthy ? 200 : 503, { status }, healthy ? {} : { 'retry-after': '1' });
    const detail = { ...this.readiness(), status, ...(shared ? { shared: await shared.status() } : {}) };
    sendJson(res, healthy ? 200 : 503, detail, healthy ? {} : { 'retry-after': '1' });
  }

  /**
   * The detail for this machine. An IdP whose keys cannot be fetched leaves the gateway ready (API keys and
   * tokens signed with the keys already fetched still work): the detail says which and why.
   */
  private readiness(): Record<string, unknown> {
    const upstreams = Object.fromEntries([...this.parts.upstreams].map(([n, u]) => [n, u.status()]));
    return {
      status: 'ready',
      upstreams,
      ...(this.parts.issuers ? { issuers: this.parts.issuers.status() } : {}),
      // The policy set in force and a refused reload.
      ...(this.parts.policies ? { policies: this.parts.policies.status() } : {}),
    };
  }

  private answerError(res: ServerResponse, err: unknown, finished: Finished): void {
    let failure: GatewayError;
    if (isGatewayError(err)) {
      failure = err;
    } else if (err instanceof StoreError && err.code === 'unavailable') {
      // Nothing was served: without the store there is neither a credential check nor an audit record.
      this.parts.log.error({ requestId: finished.requestId, err: err.message }, 'the store does not answer');
      failure = new GatewayError('store_unavailable', 'The gateway cannot reach its store right now; retry in a moment', { 'retry-after': '1' });
    } else {
      this.parts.log.error({ requestId: finished.requestId, err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'unexpected error');
      failure = new GatewayError('internal_error', `Internal error; the gateway log has details under request id ${finished.requestId}`);
    }
    finished.trace.error = failure.code;
    sendGatewayError(res, failure, finished.answerId, finished.answerHeaders);
    if (res.getHeader('connection') === 'close') res.once('finish', () => res.socket?.destroySoon?.());
  }

  /** Refuses new work and waits for the POSTs in flight, at most `graceMs`. */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([Promise.allSettled([...this.inFlight]), grace]);
  }
}
