import { GatewayError } from '../../shared/errors.js';
import { isJSONRPCRequest } from '../../shared/jsonrpc.js';
import { claimedVersion, decodeHeaderValue, isModernVersion, mcpNameOf, requiresMcpName } from '../../shared/protocol-era.js';
import { sessionOwner } from '../upstreams/session-bindings.js';
import type { RequestStates } from './request-state.js';
import { denials, Refusal, type HttpCaller } from './stage.js';

/** The methods a 2026-07-28 server may answer with `input_required` (multi round-trip requests). */
export const MRTR_METHODS: ReadonlySet<string> = new Set(['tools/call', 'resources/read', 'prompts/get']);

/**
 * Step 1c, once the body is read: a 2026-07-28 request's standard headers (`MCP-Protocol-Version`,
 * `Mcp-Method`, `Mcp-Name`) must agree with its body, because intermediaries and servers may route or decide
 * on the headers while the gateway decides on the body (SEP-2243). A mismatch is refused with 400 and the
 * `HeaderMismatch` code before authorization, and recorded. `Mcp-Param-*` headers mirror tool arguments the
 * gateway has no schema for: they are forwarded unchanged for the server to check. Legacy-era requests carry
 * none of this and pass untouched.
 */
export function standardHeaders(): (call: HttpCaller) => void {
  return (call) => {
    if (call.era !== 'modern' || call.method !== 'POST') return;
    const refuse = (error: GatewayError, reason: string): never => {
      throw new Refusal(error, denials(call, reason));
    };
    if (call.batch) refuse(new GatewayError('invalid_request', 'Invalid Request: a 2026-07-28 POST carries exactly one JSON-RPC message, not a batch'), 'a batch in the 2026-07-28 era');
    const message = call.messages[0]!;
    if (!('method' in message)) refuse(new GatewayError('invalid_request', 'Invalid Request: a 2026-07-28 client posts requests and notifications only'), 'a response posted in the 2026-07-28 era');
    if (!isJSONRPCRequest(message)) return; // header requirements for notifications are not defined by the revision
    const claim = claimedVersion(message);
    if (!isModernVersion(claim)) {
      refuse(new GatewayError('invalid_params', 'Invalid params: the MCP-Protocol-Version header names a 2026-07-28 revision, but params._meta lacks io.modelcontextprotocol/protocolVersion'), 'modern header without a protocol version in _meta');
    }
    const header = (name: string): string | undefined => {
      const value = call.req.headers[name];
      return typeof value === 'string' ? value : undefined;
    };
    const mismatch = (what: string): never => refuse(new GatewayError('header_mismatch', `Header mismatch: ${what}`), `standard headers: ${what}`);
    const version = header('mcp-protocol-version');
    if (version === undefined) mismatch('the MCP-Protocol-Version header is missing');
    if (version !== claim) mismatch(`MCP-Protocol-Version '${clip(version!)}' does not match the body's '${clip(String(claim))}'`);
    const method = header('mcp-method');
    if (method === undefined) mismatch('the Mcp-Method header is missing');
    if (method !== message.method) mismatch(`Mcp-Method '${clip(method!)}' does not match the body's '${clip(message.method)}'`);
    if (!requiresMcpName(message.method)) return;
    const raw = header('mcp-name');
    if (raw === undefined) mismatch(`the Mcp-Name header is missing (required for ${message.method})`);
    const name = decodeHeaderValue(raw!);
    if (name === undefined) mismatch('the Mcp-Name header holds a malformed =?base64?…?= value');
    if (name !== mcpNameOf(message)) mismatch(`Mcp-Name '${clip(name!)}' does not match the body's '${clip(mcpNameOf(message) ?? '')}'`);
  };
}

function clip(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}

/**
 * After authorize: a retried multi round-trip request brings back the `requestState` the gateway sealed for
 * it (`request-state.ts`); it must be the same caller's, for the same upstream, method and target. The
 * server gets its own state back; anything else is refused with 400 and recorded.
 */
export function boundStates(states: RequestStates): (call: HttpCaller) => void {
  return (call) => {
    if (call.era !== 'modern' || call.batch) return;
    const message = call.messages[0];
    if (!message || !isJSONRPCRequest(message) || !MRTR_METHODS.has(message.method)) return;
    const params = message.params as { requestState?: unknown } | undefined;
    if (params?.requestState === undefined) return;
    const opened = typeof params.requestState === 'string'
      ? states.open(params.requestState, { owner: sessionOwner(call.principal), upstream: call.upstream, method: message.method, target: mcpNameOf(message) ?? '' })
      : { ok: false as const, why: 'it is not a string' };
    if (!opened.ok) {
      throw new Refusal(new GatewayError('invalid_params', `Invalid params: requestState refused: ${opened.why}`), denials(call, `requestState refused: ${opened.why}`));
    }
    params.requestState = opened.state;
  };
}
