import type { ServerResponse } from 'node:http';
import type { JSONRPCMessage, RequestId } from '../shared/jsonrpc.js';
import { gatewayErrorResponse } from '../shared/jsonrpc.js';
import type { GatewayError } from '../shared/errors.js';

/** Ends a response with a JSON-RPC error body, unless something was already sent. */
export function sendGatewayError(res: ServerResponse, err: GatewayError, id: RequestId | null = null, extraHeaders: Readonly<Record<string, string>> = {}): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  sendJson(res, err.status, gatewayErrorResponse(id, err), { ...extraHeaders, ...err.headers });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
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
export function soleRequestId(messages: readonly JSONRPCMessage[] | undefined): RequestId | null {
  if (!messages || messages.length !== 1) return null;
  const only = messages[0] as { id?: RequestId; method?: string };
  return only.id !== undefined && only.method !== undefined ? only.id : null;
}
