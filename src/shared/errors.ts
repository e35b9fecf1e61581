/**
 * Every error the gateway answers with, by name. Each has one HTTP status and one JSON-RPC code, so a client
 * (and a test) can tell them apart without parsing messages. `docs/errors.md` lists them for users.
 */
export const GATEWAY_ERRORS = {
  parse_error: { status: 400, rpc: -32700 },
  credential_in_url: { status: 400, rpc: -32600 },
  duplicate_credential: { status: 400, rpc: -32600 },
  unauthorized: { status: 401, rpc: -32010 },
  invalid_request: { status: 400, rpc: -32600 },
  invalid_params: { status: 400, rpc: -32602 },
  header_mismatch: { status: 400, rpc: -32020 },
  unsupported_era: { status: 400, rpc: -32000 },
  bad_path: { status: 400, rpc: -32600 },
  payload_too_large: { status: 413, rpc: -32600 },
  unsupported_media_type: { status: 415, rpc: -32000 },
  not_acceptable: { status: 406, rpc: -32000 },
  method_not_allowed: { status: 405, rpc: -32000 },
  session_required: { status: 400, rpc: -32000 },
  session_not_found: { status: 404, rpc: -32001 },
  session_on_other_instance: { status: 404, rpc: -32001 },
  shared_state_unavailable: { status: 503, rpc: -32002 },
  store_unavailable: { status: 503, rpc: -32002 },
  stream_conflict: { status: 409, rpc: -32000 },
  not_found: { status: 404, rpc: -32601 },
  forbidden_origin: { status: 403, rpc: -32003 },
  forbidden_host: { status: 403, rpc: -32003 },
  forbidden: { status: 403, rpc: -32003 },
  insufficient_scope: { status: 403, rpc: -32003 },
  rate_limited: { status: 429, rpc: -32029 },
  policy_unavailable: { status: 503, rpc: -32002 },
  dpop_replay_cache_full: { status: 503, rpc: -32002 },
  too_many_sessions: { status: 503, rpc: -32029 },
  too_many_principal_sessions: { status: 429, rpc: -32029 },
  request_id_in_use: { status: 400, rpc: -32600 },
  shutting_down: { status: 503, rpc: -32002 },
  upstream_unavailable: { status: 502, rpc: -32002 },
  upstream_timeout: { status: 504, rpc: -32004 },
  internal_error: { status: 500, rpc: -32603 },
} as const satisfies Record<string, { status: number; rpc: number }>;

export type GatewayErrorCode = keyof typeof GATEWAY_ERRORS;

export class GatewayError extends Error {
  readonly code: GatewayErrorCode;
  readonly status: number;
  readonly rpcCode: number;
  /** Extra response headers, e.g. Retry-After. */
  readonly headers: Record<string, string>;

  constructor(code: GatewayErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'GatewayError';
    this.code = code;
    this.status = GATEWAY_ERRORS[code].status;
    this.rpcCode = GATEWAY_ERRORS[code].rpc;
    this.headers = headers;
  }
}

export function isGatewayError(err: unknown): err is GatewayError {
  return err instanceof GatewayError;
}
