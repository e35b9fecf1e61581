import { GatewayError } from '../shared/errors.js';
import { idKey, isJSONRPCRequest, type JSONRPCMessage } from '../shared/jsonrpc.js';
import { LIST_METHODS, targetOf, type AllowList, type McpTarget, type ScopePolicy } from '../policy/index.js';
import { bearerChallenge } from '../resource/challenge.js';
import { metadataUrlFor } from '../resource/metadata.js';
import type { AuditDecision } from '../audit/index.js';
import type { Exchange } from './exchange.js';

export interface Authorization {
  decisions: AuditDecision[];
  /** The first refusal, answered once every decision is recorded. */
  denial: GatewayError | undefined;
  /** List answers to filter, by request id. */
  rewrites: NonNullable<Exchange['rewrites']>;
}

type Rewrite = (answer: JSONRPCMessage) => JSONRPCMessage;

/**
 * The upstream's allow-list first (it binds everyone), then the caller's scopes (default deny). A caller
 * never sees in a list what it may not call, nor may call what it does not see.
 */
export function decideAll(
  ex: Exchange,
  allowList: AllowList | undefined,
  scopes: ScopePolicy | undefined,
  recordArguments?: (args: unknown) => unknown,
): Authorization {
  const decisions: AuditDecision[] = [];
  const rewrites = new Map<string, Rewrite>();
  let denial: GatewayError | undefined;
  const principal = ex.principal!;
  const ua = ex.req.headers['user-agent'];
  for (const message of ex.messages ?? []) {
    if (!isJSONRPCRequest(message)) continue;
    const target = targetOf(message);
    let { allowed, reason } = allowList ? allowList.decide(target) : { allowed: true, reason: target ? 'unrestricted' : 'no target' };
    let needed: string[] | undefined;
    if (allowed && scopes) {
      const byScope = scopes.decide(principal, ex.upstreamName, target);
      ({ allowed, reason } = byScope);
      if (!allowed) needed = byScope.needed;
    }
    decisions.push({
      requestId: ex.requestId,
      principal,
      upstream: ex.upstreamName,
      method: message.method,
      ...(target ? { target } : {}),
      decision: allowed ? 'allow' : 'deny',
      reason,
      ...(recordArguments && message.method === 'tools/call' ? { arguments: recordArguments((message.params as { arguments?: unknown } | undefined)?.arguments ?? null) } : {}),
      ip: ex.ip,
      ...(ua ? { userAgent: ua } : {}),
    });
    if (!allowed) {
      denial ??= needed ? insufficientScope(ex, target!, needed) : forbidden(ex, target!);
      continue;
    }
    // Only list answers are rewritten: the grant (a cached lookup keyed by the caller's scopes) is not needed otherwise.
    if (!LIST_METHODS[message.method]) continue;
    const rewrite = listRewrite(message.method, allowList, scopes?.grantFor(principal, ex.upstreamName));
    if (rewrite) rewrites.set(idKey(message.id), rewrite);
  }
  return { decisions, denial, rewrites };
}

function listRewrite(method: string, allowList: AllowList | undefined, grant: ReturnType<ScopePolicy['grantFor']> | undefined): Rewrite | undefined {
  const byAllowList = allowList?.filtersList(method) ? allowList : undefined;
  if (byAllowList && grant) return (answer) => grant.filterListAnswer(method, byAllowList.filterListAnswer(method, answer));
  if (byAllowList) return (answer) => byAllowList.filterListAnswer(method, answer);
  if (grant) return (answer) => grant.filterListAnswer(method, answer);
  return undefined;
}

function describe(target: McpTarget): string {
  return `${target.kind} '${target.name.slice(0, 200)}'`;
}

function forbidden(ex: Exchange, target: McpTarget): GatewayError {
  return new GatewayError('forbidden', `Forbidden: ${describe(target)} is not allowed on upstream '${ex.upstreamName}'`);
}

function insufficientScope(ex: Exchange, target: McpTarget, needed: string[]): GatewayError {
  const message = needed.length > 0
    ? `Forbidden: ${describe(target)} on upstream '${ex.upstreamName}' needs scope ${needed.join(' or ')}, which this credential does not have`
    : `Forbidden: no scope opens ${describe(target)} on upstream '${ex.upstreamName}'`;
  const challenge = bearerChallenge({
    resourceMetadata: metadataUrlFor(ex.resource),
    error: 'insufficient_scope',
    ...(needed.length > 0 ? { scope: needed.join(' ') } : {}),
  });
  return new GatewayError('insufficient_scope', message, { 'www-authenticate': challenge });
}
