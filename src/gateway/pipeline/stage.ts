import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditedPrincipal, Principal } from '../../shared/principal.js';
import { isJSONRPCRequest, type JSONRPCMessage } from '../../shared/jsonrpc.js';
import type { AuditDecision } from '../../audit/index.js';
import type { GatewayError } from '../../shared/errors.js';
import type { ProtocolEra } from '../../shared/protocol-era.js';

/**
 * The typed stages a request passes through. Each step takes one stage and hands on the next, richer one;
 * what a step adds is present (not optional) in every stage after it. The transport-neutral stages (`Call`,
 * `Identified`, `Decided`) are shared by the HTTP gateway and `warden wrap` (stdio in, stdio out).
 */

/** One request for an upstream, on any transport, once its messages are read. */
export interface Call {
  readonly requestId: string;
  readonly upstream: string;
  /** The JSON-RPC messages of the request; none for an HTTP GET (stream) or DELETE (end of session). */
  readonly messages: readonly JSONRPCMessage[];
  /** What records name for a request that carries no JSON-RPC request, e.g. `HTTP GET`. */
  readonly action: string;
  readonly ip?: string;
  readonly userAgent?: string;
  /** The resource URL of the endpoint called, when there is one (HTTP): challenges point at its metadata. */
  readonly resource?: string;
  /** The protocol era the request speaks (`legacy` until its body says otherwise). */
  readonly era?: ProtocolEra;
}

/** After authenticate: who calls. */
export interface Identified extends Call {
  readonly principal: Principal;
}

/** After authorize: every request in it is allowed, one decision each (what audit commits). */
export type Decided<C extends Identified = Identified> = C & { readonly decisions: readonly AuditDecision[] };

/** An answer rewrite by request id (`idKey`): what the filter step asks forward to apply to list answers. */
export type AnswerFilter = ReadonlyMap<string, (answer: JSONRPCMessage) => JSONRPCMessage>;

/** An HTTP request on one upstream's MCP endpoint, after the transport step. */
export interface HttpCall extends Call {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** The resource URL of the endpoint called (`<base>/mcp/<name>`, or `<base>/mcp`): challenges point at its metadata. */
  readonly resource: string;
  readonly sessionId: string | undefined;
  readonly era: ProtocolEra;
  /** True when the body was a JSON-RPC batch. */
  readonly batch: boolean;
  /** Headers every answer carries (request id, CORS). */
  readonly responseHeaders: Readonly<Record<string, string>>;
  /** What happened, for the after-phase (outcome record, access log, metrics). */
  readonly trace: Trace;
}

/** An identified HTTP call. */
export type HttpCaller = HttpCall & Identified;

/** A decided HTTP call, ready to forward: the identity step adds headers for the upstream. */
export type Outgoing = Decided<HttpCaller> & {
  /** Headers for an HTTP upstream besides the transport's and its configured ones (the identity JWT). */
  readonly upstreamHeaders: Readonly<Record<string, string>>;
};

/** What the after-phase reads: filled in as the request goes. */
export interface Trace {
  /** Every decision made, allowed or refused (metrics count them). */
  decisions: readonly AuditDecision[];
  /** Set when the call is forwarded: its first allowed decision, which the outcome record repeats. */
  forwarded: AuditDecision | undefined;
  /** The gateway error code the caller got, also when it came after the answer had started. */
  error: string | undefined;
}

/**
 * How a step after transport ends a request: the error the caller gets, and the records that say so. The
 * pipeline commits the records before the error is answered (fail closed: if they cannot be written, the
 * caller gets a 500 instead).
 */
export class Refusal extends Error {
  constructor(readonly error: GatewayError, readonly records: readonly AuditDecision[]) {
    super(error.message);
    this.name = 'Refusal';
  }
}

/** One deny record per JSON-RPC request in the call (one record naming the action when it holds none). */
export function denials(call: Call & { principal: AuditedPrincipal }, reason: string, event?: AuditDecision['event']): AuditDecision[] {
  const requests = call.messages.filter(isJSONRPCRequest);
  const methods = requests.length > 0 ? requests.map((r) => r.method) : [call.action];
  return methods.map((method) => decision(call, method, 'deny', reason, event));
}

export function decision(
  call: Call & { principal: AuditedPrincipal }, method: string, verdict: 'allow' | 'deny', reason: string, event?: AuditDecision['event'],
): AuditDecision {
  return {
    ...(event ? { event } : {}),
    requestId: call.requestId,
    principal: call.principal,
    upstream: call.upstream,
    method,
    decision: verdict,
    reason,
    ...(call.ip ? { ip: call.ip } : {}),
    ...(call.userAgent ? { userAgent: call.userAgent } : {}),
  };
}
