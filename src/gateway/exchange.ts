import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../shared/principal.js';
import type { JSONRPCMessage, RequestId } from '../shared/jsonrpc.js';
import { gatewayErrorResponse, idKey, isResponse } from '../shared/jsonrpc.js';
import type { AuditDecision } from '../audit/index.js';
import { GatewayError } from '../shared/errors.js';

/**
 * One HTTP request on its way through the gateway. Each pipeline step reads what the steps before it set
 * and adds its own part; nothing else is shared between steps.
 */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  readonly ip: string;
  readonly upstreamName: string;
  /** The resource URL of the endpoint called (`<base>/mcp/<name>`, or `<base>/mcp` for the alias): challenges point at its metadata. */
  readonly resource: string;
  /** Set by the transport step for POST. */
  body?: Buffer;
  messages?: JSONRPCMessage[];
  /** True when the body was a JSON-RPC batch. */
  batch?: boolean;
  /** Set by authenticate. */
  principal?: Principal;
  /**
   * Set by authorize: answers to these request ids must be rewritten before they reach the caller
   * (list filtering). Keyed by `idKey(id)`.
   */
  rewrites?: Map<string, (message: JSONRPCMessage) => JSONRPCMessage>;
  /** Set by authorize, committed by audit: one decision per request in the body. */
  decisions?: AuditDecision[];
  /** Set by authorize when a request was denied; answered by audit once the decision is recorded. */
  denial?: GatewayError;
  /** Set by forward: the upstream was asked, so the exchange's outcome is recorded when it ends. */
  forwarded?: boolean;
  /** The gateway error code the caller got, if the exchange failed (also after an answer had started). */
  outcomeError?: string;
  /** Set before forwarding: headers for an HTTP upstream besides the transport's and its configured ones (identity). */
  upstreamHeaders?: Record<string, string>;
  /** Extra headers every answer carries (CORS). */
  responseHeaders: Record<string, string>;
}

/** Ends a response with a JSON-RPC error body, unless something was already sent. */
export function sendGatewayError(res: ServerResponse, err: GatewayError, id: RequestId | null = null, extraHeaders: Record<string, string> = {}): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  sendJson(res, err.status, gatewayErrorResponse(id, err), { ...extraHeaders, ...err.headers });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'cache-control': 'no-store',
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** The id to answer a failed request with: the request's own when there was exactly one, else null. */
export function soleRequestId(messages: JSONRPCMessage[] | undefined): RequestId | null {
  if (!messages || messages.length !== 1) return null;
  const only = messages[0] as { id?: RequestId; method?: string };
  return only.id !== undefined && only.method !== undefined ? only.id : null;
}

/** The answer as the caller may see it: list answers filtered by the rewrites authorize attached. */
export function applyRewrite(message: JSONRPCMessage, rewrites: NonNullable<Exchange['rewrites']>): JSONRPCMessage {
  if (!isResponse(message)) return message;
  const rewrite = rewrites.get(idKey(message.id));
  return rewrite ? rewrite(message) : message;
}
