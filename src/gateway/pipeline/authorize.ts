import { GatewayError } from '../../shared/errors.js';
import { isJSONRPCNotification, isJSONRPCRequest, type JSONRPCMessage } from '../../shared/jsonrpc.js';
import { forwardTarget, targetOf, type AllowList, type McpTarget, type ScopePolicy } from '../../policy/index.js';
import { bearerChallenge } from '../../resource/challenge.js';
import { metadataUrlFor } from '../../resource/metadata.js';
import type { AuditDecision } from '../../audit/index.js';
import { decision, Refusal, type Call, type Decided, type Identified } from './stage.js';

export interface AuthorizeParts {
  /** Per upstream; an upstream without one is not restricted by it. */
  allowLists: ReadonlyMap<string, AllowList>;
  /** Per-tool authorization by scope; absent with `auth: none`, where only allow-lists apply. */
  scopes?: ScopePolicy;
  /** When set, tool arguments are recorded after passing through it (redaction and size cap). */
  recordArguments?: (args: unknown) => unknown;
}

/**
 * Step 4: decides every request in the call. The upstream's allow-list first (it binds everyone), then the
 * caller's scopes (default deny). A call with any denied request is refused whole: a batch is never
 * forwarded in part, and each of its requests is recorded as refused, the denied one with its own reason.
 *
 * Resource URIs are decided on in their RFC 3986 normal form, and that form is what is forwarded; one that
 * has none is refused. A message shaped like a notification but naming a method that is not one (a
 * `tools/call` without an id) is refused too: it would reach the upstream undecided. `ping` gets no record:
 * it names nothing, and a batch of them must not grow the audit chain.
 */
export function authorize({ allowLists, scopes, recordArguments }: AuthorizeParts): <C extends Identified>(call: C) => Decided<C> {
  return <C extends Identified>(call: C): Decided<C> => {
    const allowList = allowLists.get(call.upstream);
    const decisions: AuditDecision[] = [];
    let denial: GatewayError | undefined;
    for (const message of call.messages) {
      if (!isJSONRPCRequest(message)) {
        if (!impostor(message)) continue;
        decisions.push(decision(call, message.method, 'deny', 'a request without an id (shaped as a notification)'));
        denial ??= new GatewayError('invalid_request', `Invalid Request: '${message.method.slice(0, 100)}' is a request and needs an id; only notifications/* may be sent without one`);
        continue;
      }
      if (message.method === 'ping') continue;
      const target = targetOf(message);
      if (target?.invalid) {
        const made = decision(call, message.method, 'deny', `resource URI refused: ${target.invalid}`);
        made.target = target;
        decisions.push(made);
        denial ??= new GatewayError('invalid_params', `Invalid params: resource URI refused: ${target.invalid}; send it in its plain form`);
        continue;
      }
      if (target) forwardTarget(message, target);
      let { allowed, reason } = allowList ? allowList.decide(target) : { allowed: true, reason: target ? 'unrestricted' : 'no target' };
      let needed: string[] | undefined;
      if (allowed && scopes) {
        const byScope = scopes.decide(call.principal, call.upstream, target);
        ({ allowed, reason } = byScope);
        if (!allowed) needed = byScope.needed;
      }
      const made = decision(call, message.method, allowed ? 'allow' : 'deny', reason);
      if (target) made.target = target;
      if (recordArguments && message.method === 'tools/call') made.arguments = recordArguments((message.params as { arguments?: unknown } | undefined)?.arguments ?? null);
      decisions.push(made);
      if (!allowed) denial ??= needed ? insufficientScope(call, target!, needed) : forbidden(call, target!);
    }
    if (denial) throw new Refusal(denial, refusedWhole(decisions));
    return { ...call, decisions };
  };
}

/** A notification-shaped message whose method is not a notification: MCP defines every notification as `notifications/…`. */
function impostor(message: JSONRPCMessage): message is Extract<JSONRPCMessage, { method: string }> {
  return isJSONRPCNotification(message) && !message.method.startsWith('notifications/');
}

/** The records of a refused call: what was allowed on its own was not forwarded either. */
function refusedWhole(decisions: AuditDecision[]): AuditDecision[] {
  const denied = decisions.find((d) => d.decision === 'deny')!;
  const why = `not forwarded: the batch was refused because ${denied.method}${denied.target ? ` ${describe(denied.target)}` : ''} in it was denied`;
  return decisions.map((d) => (d.decision === 'deny' ? d : { ...d, decision: 'deny', reason: why }));
}

function describe(target: McpTarget): string {
  return `${target.kind} '${target.name.slice(0, 200)}'`;
}

function forbidden(call: Call, target: McpTarget): GatewayError {
  return new GatewayError('forbidden', `Forbidden: ${describe(target)} is not allowed on upstream '${call.upstream}'`);
}

function insufficientScope(call: Call, target: McpTarget, needed: string[]): GatewayError {
  const message = needed.length > 0
    ? `Forbidden: ${describe(target)} on upstream '${call.upstream}' needs scope ${needed.join(' or ')}, which this credential does not have`
    : `Forbidden: no scope opens ${describe(target)} on upstream '${call.upstream}'`;
  if (!call.resource) return new GatewayError('insufficient_scope', message);
  const challenge = bearerChallenge({
    resourceMetadata: metadataUrlFor(call.resource),
    error: 'insufficient_scope',
    ...(needed.length > 0 ? { scope: needed.join(' ') } : {}),
  });
  return new GatewayError('insufficient_scope', message, { 'www-authenticate': challenge });
}
