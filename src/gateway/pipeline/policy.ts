import { GatewayError } from '../../shared/errors.js';
import { isJSONRPCRequest } from '../../shared/jsonrpc.js';
import { targetOf, type McpTarget } from '../../policy/index.js';
import { verdictReason, type PolicyVerdict } from '../../policy/cedar/decision.js';
import type { Policies } from '../../policy/cedar/policies.js';
import type { AuditDecision } from '../../audit/index.js';
import { refusedWhole } from './authorize.js';
import { Refusal, type Decided } from './stage.js';

export interface PolicyParts {
  /** Cedar and/or a remote AuthZEN PDP; absent when `authorization` configures neither. */
  policies?: Policies;
}

/**
 * Step 4, second half: what the scopes allowed, the policies decide (DESIGN.md: scopes first, then policies,
 * default deny). Each allowed request that names something (a call, a read, a list) is put to every decision
 * point; its record names the policies that determined the answer. Any deny refuses the call whole, like a
 * scope denial, with a 403 that names the forbidding policy's id and `@reason` (never its text).
 */
export function decidePolicies({ policies }: PolicyParts): <C extends Decided>(call: C) => Promise<C> {
  return async (call) => {
    if (!policies) return call;
    const facts = { ...(call.ip !== undefined ? { ip: call.ip } : {}), transport: 'req' in call ? 'http' as const : 'stdio' as const };
    const decisions: AuditDecision[] = [...call.decisions];
    let denial: GatewayError | undefined;
    // authorize made one decision per request, in order, except for `ping` (no record).
    let i = -1;
    for (const message of call.messages) {
      if (!isJSONRPCRequest(message) || message.method === 'ping') continue;
      i++;
      if (decisions[i]?.method !== message.method) throw new Error(`policy step: decision ${i} is not for ${message.method}; authorize and policies disagree on which requests get a decision`);
      const target = targetOf(message);
      const question = policies.requestFor(call.principal, call.upstream, message.method, target, message.params, facts);
      if (!question) continue;
      const verdicts = await policies.decide(question);
      const last = verdicts[verdicts.length - 1]!;
      const made = decisions[i]!;
      decisions[i] = {
        ...made,
        decision: last.allowed ? made.decision : 'deny',
        reason: `${made.reason}; ${verdicts.map(verdictReason).join('; ')}`,
        policies: {
          determining: verdicts.flatMap((v) => v.determining.map((p) => p.id)),
          ...(verdicts.some((v) => v.errors.length > 0) ? { errors: verdicts.flatMap((v) => v.errors) } : {}),
          ...(verdicts[0]?.by === 'cedar' && policies.engine ? { version: policies.engine.version } : {}),
        },
      };
      if (!last.allowed) denial ??= refusal(call.upstream, message.method, target, last);
    }
    if (denial) throw new Refusal(denial, refusedWhole(decisions));
    return { ...call, decisions };
  };
}

function refusal(upstream: string, method: string, target: McpTarget | undefined, verdict: PolicyVerdict): GatewayError {
  const what = target ? `${target.kind} '${target.name.slice(0, 200)}'` : method;
  if (verdict.failure && verdict.by === 'cedar') return new GatewayError('forbidden', `Forbidden: ${what} on upstream '${upstream}' could not be evaluated by the policies (fail closed)`);
  if (verdict.failure) {
    return new GatewayError('policy_unavailable', `No policy decision for ${what} on upstream '${upstream}': ${verdict.failure}; refused (fail closed), retry later`, { 'retry-after': '5' });
  }
  const forbidding = verdict.determining[0];
  if (!forbidding) return new GatewayError('forbidden', `Forbidden: no policy permits ${what} on upstream '${upstream}'`);
  return new GatewayError('forbidden', `Forbidden by policy '${forbidding.id}'${forbidding.reason ? `: ${forbidding.reason}` : ''} (${what} on upstream '${upstream}')`);
}
