import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { Logger } from '../../shared/log.js';
import { GatewayError } from '../../shared/errors.js';
import { gatewayErrorResponse, requestIds, type JSONRPCMessage } from '../../shared/jsonrpc.js';
import type { UpstreamConfig } from '../../config/index.js';
import { sendGatewayError, soleRequestId } from '../respond.js';
import { applyFilter, applyStreamFilter } from '../pipeline/filter.js';
import type { AnswerFilter, HttpCall, Outgoing } from '../pipeline/stage.js';
import { forwardedHeaders, FORWARDED_RESPONSE_HEADERS, type LiveSession, type SessionProblem, type Upstream } from './upstream.js';
import { SseRewriter, SSE_HEADERS, writeSseMessage } from './sse.js';
import { SessionBindings, ownerView, sessionNotFound, sessionOwner } from './session-bindings.js';
import type { UpstreamTls } from '../tls.js';
import type { SharedSessions } from './shared-sessions.js';

/** A JSON answer that must be rewritten is buffered; past this size it is refused rather than held. */
const MAX_REWRITTEN_JSON_BYTES = 16 * 1024 * 1024;

/**
 * An MCP server reached over Streamable HTTP. The caller's request is rebuilt, not relayed: only the MCP
 * transport headers pass, plus the headers configured for this upstream (the gateway's own credential).
 * Answers stream back as they arrive; SSE is never buffered.
 */
export class HttpUpstream implements Upstream {
  readonly kind = 'http' as const;
  private readonly pool: Pool;
  private readonly url: URL;
  private readonly path: string;
  private inFlight = 0;
  private lastError: string | undefined;
  private readonly sessions: SessionBindings;

  constructor(
    readonly name: string,
    private readonly config: UpstreamConfig & { url: string },
    private readonly log: Logger,
    /** upstreams.<name>.tls, read at start-up (tls.ts readUpstreamTls). */
    tls?: UpstreamTls,
    /** Sessions known to every instance (store.redis); absent: this instance's only. */
    private readonly shared?: SharedSessions,
  ) {
    this.url = new URL(config.url);
    this.path = `${this.url.pathname}${this.url.search}`;
    this.sessions = new SessionBindings(config.sessions.idleTimeout);
    this.pool = new Pool(this.url.origin, {
      connections: 256,
      keepAliveTimeout: 30_000,
      headersTimeout: config.timeout,
      // An SSE stream may be quiet for long; GET streams are not timed at all, POST bodies by idle time.
      bodyTimeout: 0,
      ...(tls ? { connect: tls } : {}),
    });
  }

  sessionProblem(call: HttpCall, owner: string): SessionProblem | undefined | Promise<SessionProblem | undefined> {
    const id = call.sessionId;
    if (id === undefined) return undefined;
    const whose = this.sessions.check(id, owner);
    if (whose === 'owner') {
      this.shared?.used(id);
      return undefined;
    }
    // Opened through another instance: the directory knows whose it is; the upstream itself holds it.
    if (whose === 'unknown' && this.shared) return this.shared.problem(id, owner, () => this.sessions.bind(id, owner));
    return sessionNotFound(whose);
  }

  async handle(ex: Outgoing, answers: AnswerFilter | undefined): Promise<void> {
    const { method } = ex;
    const headers = Object.assign(forwardedHeaders(ex), this.config.headers, ex.upstreamHeaders);

    const abort = new AbortController();
    const onClientGone = () => abort.abort();
    ex.res.once('close', onClientGone);
    this.inFlight++;
    try {
      let answer: Dispatcher.ResponseData;
      try {
        answer = await this.pool.request({
          path: this.path,
          method,
          headers,
          // What was parsed and decided on, not the bytes received (duplicate keys, normalised resource URIs).
          body: method === 'POST' ? JSON.stringify(ex.batch ? ex.messages : ex.messages[0]) : undefined,
          signal: abort.signal,
          bodyTimeout: method === 'GET' ? 0 : this.config.timeout,
        });
      } catch (err) {
        if (abort.signal.aborted) return; // the caller left; nobody to answer
        throw this.translate(err);
      }
      await this.trackSession(ex, answer);
      try {
        await this.relay(ex, answer, answers);
        this.lastError = undefined;
      } catch (err) {
        if (!abort.signal.aborted) {
          this.log.warn({ upstream: this.name, requestId: ex.requestId, err: describe(err) }, 'upstream answer broke off');
          const failure = this.translate(err);
          ex.trace.error = failure.code;
          if (!ex.res.headersSent) sendGatewayError(ex.res, failure, soleRequestId(ex.messages), ex.responseHeaders);
          else endStreamWithErrors(ex, failure);
        }
        answer.body.destroy();
      }
    } finally {
      this.inFlight--;
      ex.res.off('close', onClientGone);
    }
  }

  /**
   * A 400 to a 2026-07-28 request: either the server's own modern refusal (a header mismatch, an unsupported
   * version, invalid params: passed on as it is), or a 2025-11-25 server refusing a request without a session.
   * The latter becomes an error that says so — still not a modern error code, so that a client negotiating
   * the version falls back to `initialize`, as the revision's backward-compatibility rules expect.
   */
  private async relayRefusedModern(ex: Outgoing, answer: Dispatcher.ResponseData): Promise<void> {
    const text = await readCapped(answer.body, MAX_REWRITTEN_JSON_BYTES, this.name);
    const code = (parseJsonSafely(text) as { error?: { code?: unknown } } | undefined)?.error?.code;
    if (typeof code === 'number' && MODERN_REFUSALS.has(code)) {
      ex.res.writeHead(400, { ...ex.responseHeaders, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
      ex.res.end(text);
      return;
    }
    throw new GatewayError('unsupported_era', `Upstream '${this.name}' does not speak MCP 2026-07-28 (it answered as a 2025-11-25 server); connect with protocol version negotiation so that the client falls back to initialize and a session`);
  }

  /** Binds a session the upstream just issued to its creator; forgets one that was ended or lost. */
  private async trackSession({ method, sessionId, principal }: Outgoing, answer: Dispatcher.ResponseData): Promise<void> {
    const issued = answer.headers['mcp-session-id'];
    if (sessionId === undefined && typeof issued === 'string' && issued !== '') {
      const owner = sessionOwner(principal);
      this.sessions.bind(issued, owner);
      // Before the answer goes back: the client's next request may reach another instance at once.
      await this.shared?.opened(issued, owner);
    }
    if (sessionId !== undefined && (answer.statusCode === 404 || (method === 'DELETE' && answer.statusCode < 300))) {
      this.sessions.forget(sessionId);
      this.shared?.ended(sessionId);
    }
  }

  private async relay(ex: Outgoing, answer: Dispatcher.ResponseData, answers: AnswerFilter | undefined): Promise<void> {
    const { statusCode } = answer;
    if (statusCode === 401 || statusCode === 403) {
      // The upstream refused the gateway's own credential. Its challenge is not the caller's business.
      await answer.body.dump();
      this.lastError = `HTTP ${statusCode}`;
      const identity = Object.keys(ex.upstreamHeaders).length > 0 ? ', or, if it verifies the identity JWT, its JWKS URL, issuer and audience (docs/identity.md)' : '';
      throw new GatewayError('upstream_unavailable', `Upstream '${this.name}' refused the gateway's credential (HTTP ${statusCode}); check upstreams.${this.name}.headers${identity}`);
    }
    if (ex.era === 'modern' && statusCode === 400) return this.relayRefusedModern(ex, answer);
    const headers: Record<string, string> = { ...ex.responseHeaders };
    for (const name of FORWARDED_RESPONSE_HEADERS) {
      const value = answer.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const contentType = String(answer.headers['content-type'] ?? '');
    const sse = contentType.startsWith('text/event-stream');
    if (answers && contentType.startsWith('application/json')) {
      const out = rewriteJson(await readCapped(answer.body, MAX_REWRITTEN_JSON_BYTES, this.name), answers);
      headers['content-length'] = String(Buffer.byteLength(out));
      ex.res.writeHead(statusCode, headers);
      ex.res.end(out);
      return;
    }
    if (sse) Object.assign(headers, SSE_HEADERS);
    // Kept with setHeader (not only writeHead) so that a broken-off stream can tell it is SSE.
    ex.res.setHeader('content-type', headers['content-type'] ?? 'application/octet-stream');
    const length = answer.headers['content-length'];
    if (typeof length === 'string' && !answers) headers['content-length'] = length;
    ex.res.writeHead(statusCode, headers);
    // An SSE stream may stay quiet for a while: the caller should see its headers now. Other answers go
    // out with their first chunk, in one write.
    if (sse) ex.res.flushHeaders();
    await relayBody(answer.body, ex.res, answers && sse ? new SseRewriter((m) => applyStreamFilter(m, answers)) : undefined);
  }

  private translate(err: unknown): GatewayError {
    if (err instanceof GatewayError) return err;
    this.lastError = describe(err);
    if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
      return new GatewayError('upstream_timeout', `Upstream '${this.name}' did not answer within ${this.config.timeout} ms (upstreams.${this.name}.timeout)`);
    }
    return new GatewayError('upstream_unavailable', `Upstream '${this.name}' is unavailable (${this.lastError})`);
  }

  liveSessions(): LiveSession[] {
    return this.sessions.entries().map((e) => ({ id: e.sessionId, owner: ownerView(e.owner), lastActiveAt: e.lastSeen }));
  }

  /** Forgets the binding: the upstream may keep its session, but no caller can use it through the gateway any more. */
  async endLiveSession(id: string): Promise<boolean> {
    const known = this.sessions.has(id);
    this.sessions.forget(id);
    if (known) this.shared?.ended(id);
    return known;
  }

  status(): Record<string, unknown> {
    return { kind: this.kind, url: this.url.origin + this.url.pathname, inFlight: this.inFlight, sessions: this.sessions.size, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

/**
 * Copies the upstream body to the caller chunk by chunk, with backpressure. Unlike stream.pipeline, an
 * upstream failure leaves the caller's response open, so it can still be ended with an error event.
 */
async function relayBody(body: Dispatcher.ResponseData['body'], res: ServerResponse, rewriter?: SseRewriter): Promise<void> {
  for await (const chunk of body) {
    const out = rewriter ? rewriter.write(chunk as Buffer) : (chunk as Buffer);
    if (out.length > 0 && !res.write(out)) await once(res, 'drain');
    if (res.destroyed) return;
  }
  if (rewriter) res.write(rewriter.end());
  res.end();
}

/**
 * The upstream broke off an SSE answer: answer each request of the POST with an error event, so the client
 * fails the call now instead of waiting for a response that will never come. A request that was already
 * answered gets a second, ignored response, which JSON-RPC clients drop as unknown.
 */
function endStreamWithErrors(ex: Outgoing, failure: GatewayError): void {
  const sse = ex.res.getHeader('content-type') === SSE_HEADERS['content-type'];
  if (sse && !ex.res.writableEnded && !ex.res.destroyed) {
    for (const id of requestIds(ex.messages)) writeSseMessage(ex.res, gatewayErrorResponse(id, failure));
    ex.res.end();
  } else {
    ex.res.destroy();
  }
}

function rewriteJson(text: string, answers: AnswerFilter): string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return text;
  }
  const out = Array.isArray(value)
    ? value.map((m) => applyFilter(m as JSONRPCMessage, answers))
    : applyFilter(value as JSONRPCMessage, answers);
  return JSON.stringify(out);
}

async function readCapped(body: Dispatcher.ResponseData['body'], cap: number, name: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > cap) throw new GatewayError('upstream_unavailable', `Upstream '${name}' answered with more than ${cap} bytes of JSON`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describe(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { code?: string; message?: string; cause?: { code?: string } };
    return e.code ?? e.cause?.code ?? e.message ?? String(err);
  }
  return String(err);
}

/** The refusals a 2026-07-28 server answers with: invalid params (envelope), header mismatch, missing capability, unsupported version. */
const MODERN_REFUSALS: ReadonlySet<number> = new Set([-32602, -32020, -32021, -32022]);

function parseJsonSafely(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
