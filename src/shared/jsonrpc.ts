import type { JSONRPCMessage, JSONRPCNotification, JSONRPCRequest, JSONRPCErrorResponse, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { GatewayError, type GatewayError as GatewayErrorType } from './errors.js';
import { isJsonRpcMessage } from './jsonrpc-shape.js';

export type { JSONRPCMessage, JSONRPCRequest, JSONRPCErrorResponse, RequestId };

export type ResponseMessage = Extract<JSONRPCMessage, { id: RequestId }> & ({ result: unknown } | { error: unknown });

/*
 * The kind of a message that is known to be well-formed (parsed by parseJsonRpcBody, or framed by the SDK's
 * stdio reader): told apart by its members alone, without validating it again on every look.
 */

export function isJSONRPCRequest(msg: JSONRPCMessage): msg is JSONRPCRequest {
  return 'method' in msg && 'id' in msg;
}

export function isJSONRPCNotification(msg: JSONRPCMessage): msg is JSONRPCNotification {
  return 'method' in msg && !('id' in msg);
}

export function isResponse(msg: JSONRPCMessage): msg is ResponseMessage {
  return !('method' in msg);
}

/** One POST body: a single message or (protocol 2025-03-26) a batch. */
export interface ParsedBody {
  messages: JSONRPCMessage[];
  batch: boolean;
}

export interface BodyLimits {
  /** Deepest nesting of arrays and objects accepted (http.maxJsonDepth). */
  maxDepth: number;
  /** Most messages in one batch (http.maxBatch). */
  maxBatch: number;
}

export const DEFAULT_BODY_LIMITS: BodyLimits = { maxDepth: 64, maxBatch: 32 };

/**
 * Parses a POST body into JSON-RPC messages, checked against the shape of the SDK's own `JSONRPCMessageSchema`
 * (`jsonrpc-shape.ts`; a test holds the two in agreement), so the gateway and the servers behind it agree on
 * what is well-formed. The messages are the parsed values themselves, and they — not the bytes received —
 * are what is forwarded: a duplicate key the parser resolved one way cannot reach an upstream that reads it
 * the other way. Nesting is bounded before parsing, so nothing downstream recurses without bound.
 */
export function parseJsonRpcBody(body: Buffer | string, limits: BodyLimits = DEFAULT_BODY_LIMITS): ParsedBody {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (nestingExceeds(text, limits.maxDepth)) {
    throw new GatewayError('parse_error', `Parse error: the request body nests deeper than ${limits.maxDepth} levels (http.maxJsonDepth)`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new GatewayError('parse_error', 'Parse error: the request body is not valid JSON');
  }
  const batch = Array.isArray(value);
  const items = batch ? (value as unknown[]) : [value];
  if (items.length === 0) throw new GatewayError('invalid_request', 'Invalid Request: empty batch');
  if (items.length > limits.maxBatch) {
    throw new GatewayError('invalid_request', `Invalid Request: a batch holds at most ${limits.maxBatch} messages (http.maxBatch); this one holds ${items.length}`);
  }
  items.forEach((item, i) => {
    if (isJsonRpcMessage(item)) return;
    const where = batch ? ` (batch item ${i})` : '';
    throw new GatewayError('invalid_request', `Invalid Request${where}: not a JSON-RPC 2.0 request, notification or response`);
  });
  return { messages: items as JSONRPCMessage[], batch };
}

/** True when `[`/`{` nest deeper than `max` outside strings; a linear scan, so it is safe on any input. */
function nestingExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

export function errorResponse(id: RequestId | null, code: number, message: string, data?: unknown): JSONRPCErrorResponse {
  const error: JSONRPCErrorResponse['error'] = data === undefined ? { code, message } : { code, message, data };
  // A JSON-RPC error may carry a null id when the request's id could not be read.
  return { jsonrpc: '2.0', id: id as RequestId, error };
}

export function gatewayErrorResponse(id: RequestId | null, err: GatewayErrorType): JSONRPCErrorResponse {
  return errorResponse(id, err.rpcCode, err.message, { error: err.code });
}

/** The ids of the requests (not notifications or responses) among `messages`. */
export function requestIds(messages: readonly JSONRPCMessage[]): RequestId[] {
  return messages.filter(isJSONRPCRequest).map((m) => m.id);
}

export function idKey(id: RequestId): string {
  return typeof id === 'number' ? `n:${id}` : `s:${id}`;
}
