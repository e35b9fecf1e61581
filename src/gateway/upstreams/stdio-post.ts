import type { ServerResponse } from 'node:http';
import { GatewayError } from '../../shared/errors.js';
import { errorResponse, gatewayErrorResponse, idKey, isJSONRPCRequest, type JSONRPCMessage, type RequestId } from '../../shared/jsonrpc.js';
import { sendGatewayError, soleRequestId } from '../respond.js';
import type { AnswerFilter, Outgoing } from '../pipeline/stage.js';
import { SSE_HEADERS, writeSseMessage } from './sse.js';

/** JSON-RPC code for a request its sender cancelled (as in LSP; MCP names none). */
const REQUEST_CANCELLED = -32800;

/**
 * One POST that carried requests, waiting for their answers. Nothing is sent until the first message for it
 * arrives: a lone answer goes back as plain JSON, anything more opens an SSE stream. Until then a failure can
 * still be a proper HTTP status (502, 504).
 */
export class PostCall {
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

  /**
   * The caller cancelled one of this call's requests: the child will not answer it (MCP), so it counts as
   * answered. A stream gets nothing for it; a JSON-only caller still needs a body, and gets an error.
   */
  cancel(id: RequestId): void {
    if (this.closed || !this.outstanding.delete(idKey(id))) return;
    const json = this.mode === 'json-buffer' || (this.mode === 'waiting' && !this.acceptsSse);
    if (json) this.jsonAnswers.push(errorResponse(id, REQUEST_CANCELLED, 'Request cancelled: the client sent notifications/cancelled for it'));
    if (this.outstanding.size > 0) return;
    if (json) return this.sendJson(this.batch ? this.jsonAnswers : this.jsonAnswers[0]!);
    if (this.mode === 'waiting') this.res.writeHead(200, { ...this.headers, ...SSE_HEADERS });
    this.end();
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
