import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Logger } from '../../shared/log.js';
import { GatewayError } from '../../shared/errors.js';
import { isJSONRPCNotification, isJSONRPCRequest, isResponse, type JSONRPCMessage } from '../../shared/jsonrpc.js';
import type { UpstreamConfig } from '../../config/index.js';
import { applyFilter } from '../pipeline/filter.js';
import type { AnswerFilter, HttpCall, HttpCaller, Outgoing } from '../pipeline/stage.js';
import type { Principal } from '../../shared/principal.js';
import { SSE_HEADERS, writeSseMessage } from './sse.js';
import { StdioChild } from './stdio-child.js';
import { admit, perPrincipalCap, sessionHolder } from './stdio-admission.js';
import { InFlightRequests } from './stdio-ids.js';
import { PostCall } from './stdio-post.js';
import type { LiveSession, SessionProblem, Upstream } from './upstream.js';
import type { SharedSessions } from './shared-sessions.js';
import { ownerView, sessionNotFound, sessionOwner } from './session-bindings.js';

const BACKLOG_LIMIT = 100;
const KEEPALIVE_MS = 25_000;

export interface StdioUpstreamOptions {
  /** `auth: none`: every caller is the one principal `anonymous`. */
  anonymousOnly: boolean;
  /** Sessions known to every instance (store.redis), so that another instance can say where one lives. */
  shared?: SharedSessions | undefined;
}

/**
 * An MCP server the gateway runs itself, one child process per MCP session. Towards the caller this is a
 * Streamable HTTP server (sessions, SSE, GET stream, DELETE); towards the child it is the stdio transport.
 *
 * 2026-07-28 requests have no session: each principal gets a child of its own from a pool (never shared
 * with another principal, counted against the same caps as sessions, ended when idle like them), and its
 * answers name no session.
 */
export class StdioUpstream implements Upstream {
  readonly kind = 'stdio' as const;
  private readonly sessions = new Map<string, StdioSession>();
  /** The child serving each principal's (`sessionOwner`) 2026-07-28 requests; also in `sessions`. */
  private readonly pool = new Map<string, StdioSession>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly perPrincipal: number;
  private closing = false;
  private readonly shared: SharedSessions | undefined;

  constructor(
    readonly name: string,
    private readonly config: UpstreamConfig & { command: string[] },
    private readonly log: Logger,
    options: StdioUpstreamOptions,
  ) {
    this.perPrincipal = perPrincipalCap(config.sessions, options.anonymousOnly);
    this.shared = options.shared;
    const idle = config.sessions.idleTimeout;
    this.sweeper = setInterval(() => this.sweep(), Math.max(250, Math.min(idle / 4, 30_000)));
    this.sweeper.unref();
  }

  sessionProblem(call: HttpCaller, owner: string): SessionProblem | undefined | Promise<SessionProblem | undefined> {
    if (call.era === 'modern') {
      if (this.pool.has(owner)) return undefined;
      const admission = this.admission(sessionHolder(call.principal));
      return admission.ok ? undefined : { error: admission.error, reason: admission.reason };
    }
    if (initializes(call)) {
      if (call.messages.length > 1) return refused(new GatewayError('invalid_request', 'Invalid Request: initialize must be sent alone, not in a batch'));
      if (call.sessionId !== undefined) return refused(new GatewayError('invalid_request', 'Invalid Request: initialize starts a session and must not carry Mcp-Session-Id'));
      // Asked here so that a refusal is recorded as one; handle() asks again, since sessions change meanwhile.
      const admission = this.admission(sessionHolder(call.principal));
      return admission.ok ? undefined : { error: admission.error, reason: admission.reason };
    }
    if (call.sessionId === undefined) {
      return refused(new GatewayError('session_required', 'Bad Request: Mcp-Session-Id header is required (send initialize first)'));
    }
    const session = this.sessions.get(call.sessionId);
    // Not here: with several instances, the directory says whether its child runs on another one.
    if (!session) return this.shared ? this.shared.problem(call.sessionId, owner, () => {}) : sessionNotFound('unknown');
    if (session.owner !== owner) return sessionNotFound('foreign');
    this.shared?.used(session.id);
    return undefined;
  }

  async handle(ex: Outgoing, answers: AnswerFilter | undefined): Promise<void> {
    if (ex.era === 'modern') return this.pooled(ex.principal).post(ex, answers);
    if (ex.method === 'POST' && initializes(ex)) return this.startSession(ex.principal).post(ex, answers);
    // The session step checked it; it may have ended since.
    const session = this.sessions.get(ex.sessionId ?? '');
    if (!session) throw sessionNotFound('unknown').error;
    if (ex.method === 'POST') return session.post(ex, answers);
    if (ex.method === 'GET') return session.openStream(ex);
    await this.endSession(session, 'ended by the client');
    ex.res.writeHead(200, ex.responseHeaders).end();
  }

  private admission(holder: string) {
    return admit(this.sessions.values(), holder, this.perPrincipal, this.config.sessions.max, this.name);
  }

  /** The principal's child for 2026-07-28 requests, started on its first one. */
  private pooled(principal: Principal): StdioSession {
    const owner = sessionOwner(principal);
    const existing = this.pool.get(owner);
    if (existing) return existing;
    const session = this.startSession(principal, false);
    this.pool.set(owner, session);
    return session;
  }

  private startSession(principal: Principal, named = true): StdioSession {
    if (this.closing) throw new GatewayError('shutting_down', 'The gateway is shutting down');
    const holder = sessionHolder(principal);
    const admission = this.admission(holder);
    if (!admission.ok) throw admission.error;
    // Ended without waiting for the child to stop, so that the place is taken by this session at once.
    if (admission.evict) void this.endSession(admission.evict, 'evicted: its owner opened a new session at the cap, and it was their least recently used idle one');
    const session = new StdioSession(randomUUID(), named, sessionOwner(principal), holder, this.name, this.config, this.log, (s, why) => {
      this.forget(s);
      this.log.info({ upstream: this.name, session: s.id, why }, 'session ended');
    });
    this.sessions.set(session.id, session);
    if (named) void this.shared?.opened(session.id, session.owner);
    this.log.info({ upstream: this.name, session: session.id, pid: session.pid }, 'session started');
    return session;
  }

  private forget(session: StdioSession): boolean {
    if (this.pool.get(session.owner) === session) this.pool.delete(session.owner);
    const known = this.sessions.delete(session.id);
    if (known && session.named) this.shared?.ended(session.id);
    return known;
  }

  private async endSession(session: StdioSession, why: string): Promise<void> {
    if (!this.forget(session)) return;
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
    return { kind: this.kind, sessions: this.sessions.size, pooled: this.pool.size, maxSessions: this.config.sessions.max, perPrincipal: this.perPrincipal };
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
  private readonly inFlight = new InFlightRequests<PostCall>();
  private readonly calls = new Set<PostCall>();
  private stream: ServerResponse | undefined;
  private keepalive: NodeJS.Timeout | undefined;
  private backlog: JSONRPCMessage[] = [];
  private lastActivity = Date.now();
  private ended = false;

  constructor(
    readonly id: string,
    /** False for a pooled child serving 2026-07-28 requests: its id is internal and never named to the caller. */
    readonly named: boolean,
    /** `sessionOwner` of the principal that initialized it. */
    readonly owner: string,
    /** `sessionHolder` of that principal: whose share of the upstream's sessions this one counts against. */
    readonly holder: string,
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
    const requests = ex.messages.filter(isJSONRPCRequest);
    const clash = this.inFlight.conflict(requests);
    if (clash !== undefined) {
      // Refused whole and before anything reaches the child, like a batch with a denied request.
      throw new GatewayError('request_id_in_use', `Invalid Request: id ${JSON.stringify(clash)} is already in use by a request in flight in this session; give every request its own id`);
    }
    this.lastActivity = Date.now();
    if (requests.length === 0) {
      for (const m of ex.messages) this.toChild(m, undefined);
      ex.res.writeHead(202, this.named ? { ...ex.responseHeaders, 'mcp-session-id': this.id } : ex.responseHeaders).end();
      return Promise.resolve();
    }
    const call = new PostCall(ex, answers, this.named ? this.id : undefined, this.config.timeout, this.upstream);
    this.calls.add(call);
    for (const m of ex.messages) this.toChild(m, call);
    return call.done.finally(() => {
      this.calls.delete(call);
      this.lastActivity = Date.now();
      for (const r of requests) {
        const childId = this.inFlight.release(r.id, call);
        if (childId !== undefined && call.timedOut) {
          this.child.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: childId, reason: 'timed out at the gateway' } });
        }
      }
    });
  }

  /** A caller's message on its way to the child: requests under the gateway's ids, cancellations naming them. */
  private toChild(message: JSONRPCMessage, call: PostCall | undefined): void {
    if (isJSONRPCRequest(message)) {
      this.child.send(this.inFlight.add(message, call!));
    } else if (isJSONRPCNotification(message) && message.method === 'notifications/cancelled') {
      const cancelled = this.inFlight.cancel(message);
      if (!cancelled) {
        this.log.debug({ upstream: this.upstream, session: this.id }, 'dropped a cancellation of a request that is not in flight');
        return;
      }
      this.child.send(cancelled.message);
      cancelled.call.cancel(cancelled.callerId);
    } else {
      // Notifications, and answers to the child's own requests (whose ids are the child's).
      this.child.send(message);
    }
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
      const settled = this.inFlight.settle(message);
      if (!settled) {
        this.log.debug({ upstream: this.upstream, session: this.id }, 'answer to a request nobody waits for any more');
        return;
      }
      const { call, message: answer } = settled;
      // The filter of the call that sent this very request, looked up by the caller's id within that call.
      call.deliver(call.answers ? applyFilter(answer, call.answers) : answer, answer.id);
      return;
    }
    // Progress goes to the call whose request carries the token, and nowhere else: progress for a request no
    // longer in flight (cancelled, timed out) has no receiver and must not leak onto another call's stream.
    if (isJSONRPCNotification(message) && message.method === 'notifications/progress') {
      const progress = this.inFlight.progress(message);
      if (progress) progress.call.deliver(progress.message);
      else this.log.debug({ upstream: this.upstream, session: this.id }, 'dropped progress for a request not in flight');
      return;
    }
    // stdio carries no link between a message and the request it belongs to. Server-to-client requests
    // (sampling, elicitation) are asked while a call is being worked on: they go to the newest open call. A
    // log message goes with a call only when one call alone is open. Everything else (list changes, resource
    // updates, logs while several calls run) is not about any one call: the GET stream, else it waits for one.
    const open = [...this.calls].filter((c) => c.open);
    const call = isJSONRPCRequest(message) ? open.at(-1)
      : isJSONRPCNotification(message) && message.method === 'notifications/message' && open.length === 1 ? open[0]
        : undefined;
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
