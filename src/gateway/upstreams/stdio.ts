import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Logger } from '../../shared/log.js';
import { GatewayError } from '../../shared/errors.js';
import {
  gatewayErrorResponse, idKey, isJSONRPCNotification, isJSONRPCRequest, isResponse,
  type JSONRPCMessage, type JSONRPCRequest, type RequestId,
} from '../../shared/jsonrpc.js';
import type { UpstreamConfig } from '../../config/index.js';
import { sendGatewayError, soleRequestId } from '../respond.js';
import { applyFilter } from '../pipeline/filter.js';
import type { AnswerFilter, HttpCall, Outgoing } from '../pipeline/stage.js';
import { SSE_HEADERS, writeSseMessage } from './sse.js';
import { StdioChild } from './stdio-child.js';
import type { LiveSession, Upstream } from './upstream.js';
import { ownerView, sessionNotFound, sessionOwner } from './session-bindings.js';

const BACKLOG_LIMIT = 100;
const KEEPALIVE_MS = 25_000;

/**
 * An MCP server the gateway runs itself, one child process per MCP session. Towards the caller this is a
 * Streamable HTTP server (sessions, SSE, GET stream, DELETE); towards the child it is the stdio transport.
 */
export class StdioUpstream implements Upstream {
  readonly kind = 'stdio' as const;
  private readonly sessions = new Map<string, StdioSession>();
  private readonly sweeper: NodeJS.Timeout;
  private closing = false;

  constructor(
    readonly name: string,
    private readonly config: UpstreamConfig & { command: string[] },
    private readonly log: Logger,
  ) {
    const idle = config.sessions.idleTimeout;
    this.sweeper = setInterval(() => this.sweep(), Math.max(250, Math.min(idle / 4, 30_000)));
    this.sweeper.unref();
  }

  sessionProblem(call: HttpCall, owner: string): { error: GatewayError; reason: string } | undefined {
    if (initializes(call)) {
      if (call.messages.length > 1) return refused(new GatewayError('invalid_request', 'Invalid Request: initialize must be sent alone, not in a batch'));
      if (call.sessionId !== undefined) return refused(new GatewayError('invalid_request', 'Invalid Request: initialize starts a session and must not carry Mcp-Session-Id'));
      return undefined;
    }
    if (call.sessionId === undefined) {
      return refused(new GatewayError('session_required', 'Bad Request: Mcp-Session-Id header is required (send initialize first)'));
    }
    const session = this.sessions.get(call.sessionId);
    if (!session) return sessionNotFound('unknown');
    return session.owner === owner ? undefined : sessionNotFound('foreign');
  }

  async handle(ex: Outgoing, answers: AnswerFilter | undefined): Promise<void> {
    if (ex.method === 'POST' && initializes(ex)) return this.startSession(sessionOwner(ex.principal)).post(ex, answers);
    // The session step checked it; it may have ended since.
    const session = this.sessions.get(ex.sessionId ?? '');
    if (!session) throw sessionNotFound('unknown').error;
    if (ex.method === 'POST') return session.post(ex, answers);
    if (ex.method === 'GET') return session.openStream(ex);
    await this.endSession(session, 'ended by the client');
    ex.res.writeHead(200, ex.responseHeaders).end();
  }

  private startSession(owner: string): StdioSession {
    if (this.closing) throw new GatewayError('shutting_down', 'The gateway is shutting down');
    if (this.sessions.size >= this.config.sessions.max) {
      throw new GatewayError('too_many_sessions', `Too many sessions: upstream '${this.name}' runs at most ${this.config.sessions.max} (upstreams.${this.name}.sessions.max)`, { 'retry-after': '10' });
    }
    const session = new StdioSession(randomUUID(), owner, this.name, this.config, this.log, (s, why) => {
      this.sessions.delete(s.id);
      this.log.info({ upstream: this.name, session: s.id, why }, 'session ended');
    });
    this.sessions.set(session.id, session);
    this.log.info({ upstream: this.name, session: session.id, pid: session.pid }, 'session started');
    return session;
  }

  private async endSession(session: StdioSession, why: string): Promise<void> {
    if (!this.sessions.delete(session.id)) return;
    this.log.info({ upstream: this.name, session: session.id, why }, 'session ended');
    await session.close(why);
  }

  private sweep(): void {
    const cutoff = Date.now() - this.config.sessions.idleTimeout;
    for (const session of this.sessions.values()) {
      if (session.idleSince !== undefined && session.idleSince < cutoff) void this.endSession(session, 'idle timeout');
    }
  }

  liveSessions(): LiveSession[] {
    return [...this.sessions.values()].map((s) => ({ id: s.id, owner: ownerView(s.owner), lastActiveAt: s.lastActiveAt }));
  }

  /** Stops the session's child; its owner gets 404 next. */
  async endLiveSession(id: string): Promise<boolean> {
    const session = this.sessions.get(id);
    if (!session) return false;
    await this.endSession(session, 'ended by an administrator');
    return true;
  }

  status(): Record<string, unknown> {
    return { kind: this.kind, sessions: this.sessions.size, maxSessions: this.config.sessions.max };
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.sweeper);
    await Promise.all([...this.sessions.values()].map((s) => this.endSession(s, 'gateway shutting down')));
  }
}

/** One MCP session: one child, the POSTs waiting for its answers, and at most one GET stream. */
class StdioSession {
  readonly child: StdioChild;
  private readonly pending = new Map<string, PostCall>();
  private readonly progress = new Map<string | number, PostCall>();
  private readonly calls = new Set<PostCall>();
  private stream: ServerResponse | undefined;
  private keepalive: NodeJS.Timeout | undefined;
  private backlog: JSONRPCMessage[] = [];
  private lastActivity = Date.now();
  private ended = false;

  constructor(
    readonly id: string,
    /** `sessionOwner` of the principal that initialized it. */
    readonly owner: string,
    private readonly upstream: string,
    private readonly config: UpstreamConfig & { command: string[] },
    private readonly log: Logger,
    private readonly onEnd: (session: StdioSession, why: string) => void,
  ) {
    this.child = new StdioChild(config, {
      onMessage: (m) => this.fromChild(m),
      onDiagnostic: (line, stream) => this.log.info({ upstream, session: id, stream }, line),
      onExit: (why) => this.childExited(why),
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get lastActiveAt(): number {
    return this.lastActivity;
  }

  /** When the session became idle, or undefined while something is in flight or a stream is open. */
  get idleSince(): number | undefined {
    return this.calls.size > 0 || this.stream ? undefined : this.lastActivity;
  }

  post(ex: Outgoing, answers: AnswerFilter | undefined): Promise<void> {
    this.lastActivity = Date.now();
    const messages = ex.messages;
    const requests = messages.filter(isJSONRPCRequest);
    if (requests.length === 0) {
      for (const m of messages) this.child.send(m);
      ex.res.writeHead(202, { ...ex.responseHeaders, 'mcp-session-id': this.id }).end();
      return Promise.resolve();
    }
    const call = new PostCall(ex, answers, this.id, this.config.timeout, this.upstream);
    this.calls.add(call);
    for (const r of requests) {
      this.pending.set(idKey(r.id), call);
      const token = progressTokenOf(r);
      if (token !== undefined) this.progress.set(token, call);
    }
    for (const m of messages) this.child.send(m);
    return call.done.finally(() => {
      this.calls.delete(call);
      this.lastActivity = Date.now();
      for (const r of requests) {
        if (this.pending.get(idKey(r.id)) === call) this.pending.delete(idKey(r.id));
        const token = progressTokenOf(r);
        if (token !== undefined && this.progress.get(token) === call) this.progress.delete(token);
      }
      if (call.timedOut) {
        for (const id of call.unanswered) this.child.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'timed out at the gateway' } });
      }
    });
  }

  openStream(ex: Outgoing): void {
    const accept = String(ex.req.headers.accept ?? '');
    if (!accept.includes('text/event-stream')) throw new GatewayError('not_acceptable', 'Not Acceptable: a GET stream needs Accept: text/event-stream');
    if (this.stream) throw new GatewayError('stream_conflict', 'Conflict: this session already has an open GET stream');
    this.lastActivity = Date.now();
    const res = ex.res;
    res.writeHead(200, { ...ex.responseHeaders, ...SSE_HEADERS, 'mcp-session-id': this.id });
    res.flushHeaders();
    this.stream = res;
    for (const m of this.backlog) writeSseMessage(res, m);
    this.backlog = [];
    this.keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    this.keepalive.unref();
    res.once('close', () => {
      if (this.stream === res) this.stream = undefined;
      clearInterval(this.keepalive);
      this.lastActivity = Date.now();
    });
  }

  private fromChild(message: JSONRPCMessage): void {
    if (isResponse(message)) {
      const key = idKey(message.id);
      const call = this.pending.get(key);
      if (!call) {
        this.log.debug({ upstream: this.upstream, session: this.id }, 'answer to a request nobody waits for any more');
        return;
      }
      this.pending.delete(key);
      call.deliver(call.answers ? applyFilter(message, call.answers) : message, message.id);
      return;
    }
    // Server-to-client requests and notifications go to the call they belong to when that is known (progress),
    // else to the newest open call (a stdio server answers requests in the order it works on them), else to
    // the GET stream, else they wait for one.
    let call: PostCall | undefined;
    if (isJSONRPCNotification(message) && message.method === 'notifications/progress') {
      call = this.progress.get((message.params as { progressToken?: string | number } | undefined)?.progressToken ?? '');
    }
    call ??= [...this.calls].reverse().find((c) => c.open);
    if (call) call.deliver(message);
    else if (this.stream) writeSseMessage(this.stream, message);
    else {
      this.backlog.push(message);
      if (this.backlog.length > BACKLOG_LIMIT) this.backlog.shift();
    }
  }

  private childExited(why: string): void {
    const failure = new GatewayError('upstream_unavailable', `Upstream '${this.upstream}' ${why}`);
    if (!this.ended) this.log.warn({ upstream: this.upstream, session: this.id, why }, 'upstream process ended');
    for (const call of this.calls) call.fail(failure);
    this.stream?.end();
    if (!this.ended) {
      this.ended = true;
      this.onEnd(this, `upstream ${why}`);
    }
  }

  async close(why: string): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    const failure = new GatewayError('upstream_unavailable', `Session ended (${why})`);
    for (const call of this.calls) call.fail(failure);
    this.stream?.end();
    await this.child.stop();
  }
}

function initializes(call: HttpCall): boolean {
  return call.method === 'POST' && call.messages.some((m) => isJSONRPCRequest(m) && m.method === 'initialize');
}

function refused(error: GatewayError): { error: GatewayError; reason: string } {
  return { error, reason: `session refused: ${error.code}` };
}

function progressTokenOf(request: JSONRPCRequest): string | number | undefined {
  return (request.params as { _meta?: { progressToken?: string | number } } | undefined)?._meta?.progressToken;
}

/**
 * One POST that carried requests, waiting for their answers. Nothing is sent until the first message for it
 * arrives: a lone answer goes back as plain JSON, anything more opens an SSE stream. Until then a failure can
 * still be a proper HTTP status (502, 504).
 */
class PostCall {
  readonly done: Promise<void>;
  timedOut = false;
  private readonly res: ServerResponse;
  private readonly outstanding = new Map<string, RequestId>();
  private readonly acceptsSse: boolean;
  private readonly batch: boolean;
  private readonly jsonAnswers: JSONRPCMessage[] = [];
  private readonly headers: Record<string, string>;
  private mode: 'waiting' | 'sse' | 'json-buffer' = 'waiting';
  private timer: NodeJS.Timeout;
  private finish!: () => void;
  private closed = false;

  constructor(
    private readonly ex: Outgoing,
    readonly answers: AnswerFilter | undefined,
    sessionId: string,
    private readonly timeoutMs: number,
    private readonly upstream: string,
  ) {
    this.res = ex.res;
    this.done = new Promise((resolve) => (this.finish = resolve));
    for (const m of ex.messages) if (isJSONRPCRequest(m)) this.outstanding.set(idKey(m.id), m.id);
    this.batch = ex.messages.length > 1;
    this.acceptsSse = String(ex.req.headers.accept ?? '').includes('text/event-stream');
    this.headers = { ...ex.responseHeaders, 'mcp-session-id': sessionId };
    this.timer = setTimeout(() => this.timeout(), timeoutMs);
    this.res.once('close', () => this.end());
  }

  get open(): boolean {
    return !this.closed && this.acceptsSse;
  }

  get unanswered(): RequestId[] {
    return [...this.outstanding.values()];
  }

  /** Delivers a message for this call; `answers` is the request id when it is a response. */
  deliver(message: JSONRPCMessage, answers?: RequestId): void {
    if (this.closed) return;
    this.timer.refresh(); // progress and other traffic keep a long call alive
    if (answers !== undefined) this.outstanding.delete(idKey(answers));
    const last = this.outstanding.size === 0;
    if (this.mode === 'waiting') {
      if (last && answers !== undefined && !this.batch) {
        this.sendJson(message);
        return;
      }
      if (this.acceptsSse) {
        this.res.writeHead(200, { ...this.headers, ...SSE_HEADERS });
        this.mode = 'sse';
      } else {
        this.mode = 'json-buffer';
      }
    }
    if (this.mode === 'sse') {
      writeSseMessage(this.res, message);
      if (last) this.end();
    } else {
      if (answers !== undefined) this.jsonAnswers.push(message);
      if (last) this.sendJson(this.batch ? this.jsonAnswers : this.jsonAnswers[0]!);
    }
  }

  fail(err: GatewayError): void {
    if (this.closed) return;
    this.ex.trace.error = err.code;
    if (this.mode === 'waiting' || (this.mode === 'json-buffer' && !this.batch)) {
      sendGatewayError(this.res, err, soleRequestId(this.ex.messages), this.headers);
    } else if (this.mode === 'sse') {
      for (const id of this.outstanding.values()) writeSseMessage(this.res, gatewayErrorResponse(id, err));
      this.res.end();
    } else {
      for (const id of this.outstanding.values()) this.jsonAnswers.push(gatewayErrorResponse(id, err));
      this.sendJson(this.jsonAnswers);
    }
    this.end();
  }

  private timeout(): void {
    this.timedOut = true;
    this.fail(new GatewayError('upstream_timeout', `Upstream '${this.upstream}' did not answer within ${this.timeoutMs} ms (upstreams.${this.upstream}.timeout)`));
  }

  private sendJson(body: unknown): void {
    const text = JSON.stringify(body);
    this.res.writeHead(200, { ...this.headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
    this.res.end(text);
    this.end();
  }

  private end(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    if (!this.res.writableEnded) this.res.end();
    this.finish();
  }
}
