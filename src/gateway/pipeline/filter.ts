import { idKey, isJSONRPCRequest, isResponse, type JSONRPCMessage } from '../../shared/jsonrpc.js';
import { LIST_METHODS, type AllowList, type ScopePolicy } from '../../policy/index.js';
import { CACHEABLE_METHODS } from '../../shared/protocol-era.js';
import type { AnswerFilter, Decided } from './stage.js';

type Rewrite = (answer: JSONRPCMessage) => JSONRPCMessage;

/**
 * Step 8: list answers (`tools/list`, `resources/list`, `resources/templates/list`, `prompts/list`) reduced
 * to what the caller may use, so that a caller never sees what it may not call. Built before forwarding and
 * applied by the upstream as the answer streams back; undefined when no answer needs it.
 *
 * In the 2026-07-28 era these results (and `resources/read`) say who may cache them (`cacheScope`). What
 * passes through the gateway is decided per caller, so it is always `private`: no shared cache may serve one
 * caller's list to another, whatever the server said.
 */
export function filter({ allowLists, scopes }: { allowLists: ReadonlyMap<string, AllowList>; scopes?: ScopePolicy }): (call: Decided) => AnswerFilter | undefined {
  return (call) => {
    let rewrites: Map<string, Rewrite> | undefined;
    for (const message of call.messages) {
      if (!isJSONRPCRequest(message)) continue;
      // The grant (a cached lookup keyed by the caller's scopes) is needed only for list answers.
      const list = LIST_METHODS[message.method] ? listRewrite(message.method, allowLists.get(call.upstream), scopes?.grantFor(call.principal, call.upstream)) : undefined;
      const rewrite = call.era === 'modern' && CACHEABLE_METHODS.has(message.method) ? privately(list) : list;
      if (rewrite) (rewrites ??= new Map()).set(idKey(message.id), rewrite);
    }
    return rewrites;
  };
}

function listRewrite(method: string, allowList: AllowList | undefined, grant: ReturnType<ScopePolicy['grantFor']> | undefined): Rewrite | undefined {
  const byAllowList = allowList?.filtersList(method) ? allowList : undefined;
  if (byAllowList && grant) return (answer) => grant.filterListAnswer(method, byAllowList.filterListAnswer(method, answer));
  if (byAllowList) return (answer) => byAllowList.filterListAnswer(method, answer);
  if (grant) return (answer) => grant.filterListAnswer(method, answer);
  return undefined;
}

/** `then`, followed by marking the result `cacheScope: private`. */
function privately(then: Rewrite | undefined): Rewrite {
  return (answer) => {
    const out = then ? then(answer) : answer;
    if (!('result' in out) || out.result === null || typeof out.result !== 'object') return out;
    return { ...out, result: { ...out.result, cacheScope: 'private' } } as JSONRPCMessage;
  };
}

/** The answer as the caller may see it. */
export function applyFilter(message: JSONRPCMessage, answers: AnswerFilter): JSONRPCMessage {
  if (!isResponse(message)) return message;
  const rewrite = answers.get(idKey(message.id));
  return rewrite ? rewrite(message) : message;
}
