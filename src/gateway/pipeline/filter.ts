import { idKey, isJSONRPCRequest, isResponse, type JSONRPCMessage } from '../../shared/jsonrpc.js';
import { LIST_METHODS, filterListAnswer, type AllowList, type Permits, type ScopePolicy } from '../../policy/index.js';
import type { Policies } from '../../policy/cedar/policies.js';
import type { AnswerFilter, Decided } from './stage.js';

type Rewrite = (answer: JSONRPCMessage) => JSONRPCMessage;

/**
 * Step 8: list answers (`tools/list`, `resources/list`, `resources/templates/list`, `prompts/list`) reduced
 * to what the caller may use, so that a caller never sees what it may not call. Built before forwarding and
 * applied by the upstream as the answer streams back; undefined when no answer needs it.
 */
export function filter({ allowLists, scopes, policies }: { allowLists: ReadonlyMap<string, AllowList>; scopes?: ScopePolicy; policies?: Policies }): (call: Decided) => AnswerFilter | undefined {
  return (call) => {
    let rewrites: Map<string, Rewrite> | undefined;
    for (const message of call.messages) {
      if (!isJSONRPCRequest(message) || !LIST_METHODS[message.method]) continue;
      // The grant (a cached lookup keyed by the caller's scopes) is needed only for list answers.
      let rewrite = listRewrite(message.method, allowLists.get(call.upstream), scopes?.grantFor(call.principal, call.upstream));
      const byPolicy = policies?.listPermits(call.principal, call.upstream, { ...(call.ip !== undefined ? { ip: call.ip } : {}), transport: 'req' in call ? 'http' : 'stdio' });
      if (byPolicy) rewrite = withPolicies(message.method, rewrite, byPolicy);
      if (rewrite) (rewrites ??= new Map()).set(idKey(message.id), rewrite);
    }
    return rewrites;
  };
}

/** After the allow-list and the scopes, the policies: an item stays when the call it stands for could be allowed. */
function withPolicies(method: string, before: Rewrite | undefined, permits: Permits): Rewrite {
  return (answer) => filterListAnswer(method, before ? before(answer) : answer, permits);
}

function listRewrite(method: string, allowList: AllowList | undefined, grant: ReturnType<ScopePolicy['grantFor']> | undefined): Rewrite | undefined {
  const byAllowList = allowList?.filtersList(method) ? allowList : undefined;
  if (byAllowList && grant) return (answer) => grant.filterListAnswer(method, byAllowList.filterListAnswer(method, answer));
  if (byAllowList) return (answer) => byAllowList.filterListAnswer(method, answer);
  if (grant) return (answer) => grant.filterListAnswer(method, answer);
  return undefined;
}

/** The answer as the caller may see it. */
export function applyFilter(message: JSONRPCMessage, answers: AnswerFilter): JSONRPCMessage {
  if (!isResponse(message)) return message;
  const rewrite = answers.get(idKey(message.id));
  return rewrite ? rewrite(message) : message;
}
