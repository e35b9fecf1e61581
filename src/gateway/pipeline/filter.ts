import { idKey, isJSONRPCRequest, isResponse, type JSONRPCMessage } from '../../shared/jsonrpc.js';
import { LIST_METHODS, type AllowList, type ScopePolicy } from '../../policy/index.js';
import { CACHEABLE_METHODS, mcpNameOf } from '../../shared/protocol-era.js';
import { sessionOwner } from '../upstreams/session-bindings.js';
import { MRTR_METHODS } from './protocol.js';
import type { RequestStates } from './request-state.js';
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
export function filter({ allowLists, scopes, states }: {
  allowLists: ReadonlyMap<string, AllowList>;
  scopes?: ScopePolicy;
  /** Seals `requestState` of multi round-trip answers to the caller (HTTP gateway; absent in `warden wrap`). */
  states?: RequestStates;
}): (call: Decided) => AnswerFilter | undefined {
  return (call) => {
    let rewrites: Map<string, Rewrite> | undefined;
    for (const message of call.messages) {
      if (!isJSONRPCRequest(message)) continue;
      // The grant (a cached lookup keyed by the caller's scopes) is needed only for list answers.
      const list = LIST_METHODS[message.method] ? listRewrite(message.method, allowLists.get(call.upstream), scopes?.grantFor(call.principal, call.upstream)) : undefined;
      let rewrite = call.era === 'modern' && CACHEABLE_METHODS.has(message.method) ? privately(list) : list;
      if (states && call.era === 'modern' && MRTR_METHODS.has(message.method)) {
        rewrite = sealing(rewrite, states, { owner: sessionOwner(call.principal), upstream: call.upstream, method: message.method, target: mcpNameOf(message) ?? '' });
      }
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

/** `then`, followed by sealing the `requestState` of an `input_required` result to the caller. */
function sealing(then: Rewrite | undefined, states: RequestStates, binding: Parameters<RequestStates['seal']>[1]): Rewrite {
  return (answer) => {
    const out = then ? then(answer) : answer;
    const result = 'result' in out ? out.result as { resultType?: unknown; requestState?: unknown } : undefined;
    if (result?.resultType !== 'input_required' || typeof result.requestState !== 'string') return out;
    return { ...out, result: { ...result, requestState: states.seal(result.requestState, binding) } } as JSONRPCMessage;
  };
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
