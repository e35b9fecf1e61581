import {
  JSONRPCMessageSchema,
  isJSONRPCRequest,
  isJSONRPCNotification,
  isJSONRPCResultResponse,
  isJSONRPCErrorResponse,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type JSONRPCErrorResponse,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { GatewayError, type GatewayError as GatewayErrorType } from './errors.js';

export { isJSONRPCRequest, isJSONRPCNotification, isJSONRPCResultResponse, isJSONRPCErrorResponse };
export type { JSONRPCMessage, JSONRPCRequest, JSONRPCErrorResponse, RequestId };

export type ResponseMessage = Extract<JSONRPCMessage, { id: RequestId }> & ({ result: unknown } | { error: unknown });

export function isResponse(msg: JSONRPCMessage): msg is ResponseMessage {
  return isJSONRPCResultResponse(msg) || isJSONRPCErrorResponse(msg);
}

/** One POST body: a single message or (protocol 2025-03-26) a batch. */
export interface ParsedBody {
  messages: JSONRPCMessage[];
  batch: boolean;
}

/**
 * Parses a POST body into JSON-RPC messages, with the protocol's own schema (shared with the SDK), so the
 * gateway and the servers behind it agree on what is well-formed.
 */
export function parseJsonRpcBody(body: Buffer | string): ParsedBody {
  let value: unknown;
  try {
    value = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    throw new GatewayError('parse_error', 'Parse error: the request body is not valid JSON');
  }
  const batch = Array.isArray(value);
  const items = batch ? (value as unknown[]) : [value];
  if (items.length === 0) throw new GatewayError('invalid_request', 'Invalid Request: empty batch');
  const messages = items.map((item, i) => {
    const parsed = JSONRPCMessageSchema.safeParse(item);
    if (!parsed.success) {
      const where = batch ? ` (batch item ${i})` : '';
      throw new GatewayError(
        'invalid_request',
        `Invalid Request${where}: not a JSON-RPC 2.0 request, notification or response`,
      );
    }
    return parsed.data;
  });
  return { messages, batch };
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
