import { idKey, isJSONRPCRequest, isResponse, type JSONRPCMessage } from '../../shared/jsonrpc.js';
import { LIST_METHODS, filterListAnswer, resourceTarget, type AllowList, type Permits, type ScopePolicy, type TargetKind } from '../../policy/index.js';
import type { Policies } from '../../policy/cedar/policies.js';
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
export function filter({ allowLists, scopes, states, policies }: {
  allowLists: ReadonlyMap<string, AllowList>;
  scopes?: ScopePolicy;
  /** Seals `requestState` of multi round-trip answers to the caller (HTTP gateway; absent in `warden wrap`). */
  states?: RequestStates;
  /** Cedar: list items the caller could not use are dropped too. */
  policies?: Policies;
}): (call: Decided) => AnswerFilter | undefined {
  return (call) => {
    let rewrites: Map<string, Rewrite> | undefined;
    for (const message of call.messages) {
      if (!isJSONRPCRequest(message)) continue;
      // The grant (a cached lookup keyed by the caller's scopes) is needed only for list answers.
      let list = LIST_METHODS[message.method] ? listRewrite(message.method, allowLists.get(call.upstream), scopes?.grantFor(call.principal, call.upstream)) : undefined;
      const byPolicy = LIST_METHODS[message.method] ? policies?.listPermits(call.principal, call.upstream, { ...(call.ip !== undefined ? { ip: call.ip } : {}), transport: 'req' in call ? 'http' : 'stdio' }) : undefined;
      if (byPolicy) list = withPolicies(message.method, list, byPolicy);
      let rewrite = call.era === 'modern' && CACHEABLE_METHODS.has(message.method) ? privately(list) : list;
      if (call.era === 'modern' && message.method === 'subscriptions/listen') {
        const notifications = listenRewrite(allowLists.get(call.upstream), scopes?.grantFor(call.principal, call.upstream));
        if (notifications) (rewrites ??= new Map()).set(NOTIFICATIONS, notifications);
      }
      if (call.era === 'modern' && message.method === 'server/discover') {
        rewrite = discovery(allowLists.get(call.upstream), scopes?.grantFor(call.principal, call.upstream));
      }
      if (states && call.era === 'modern' && MRTR_METHODS.has(message.method)) {
        rewrite = sealing(rewrite, states, { owner: sessionOwner(call.principal), upstream: call.upstream, method: message.method, target: mcpNameOf(message) ?? '' });
      }
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

const CAPABILITY_OF: Readonly<Record<TargetKind, string>> = { tool: 'tools', prompt: 'prompts', resource: 'resources' };

/**
 * A `server/discover` answer advertising only the kinds of things the caller may use on this upstream: a
 * capability whose kind the allow-list closes, or none of the caller's scopes opens, is taken out.
 */
function discovery(allowList: AllowList | undefined, grant: ReturnType<ScopePolicy['grantFor']> | undefined): Rewrite {
  return (answer) => {
    const result = 'result' in answer ? answer.result as { capabilities?: Record<string, unknown> } : undefined;
    if (!result?.capabilities || typeof result.capabilities !== 'object') return answer;
    const capabilities = { ...result.capabilities };
    for (const [kind, capability] of Object.entries(CAPABILITY_OF) as [TargetKind, string][]) {
      if ((allowList && !allowList.allowsAnyOf(kind)) || (grant && !grant.opensKind(kind))) delete capabilities[capability];
    }
    return { ...answer, result: { ...result, capabilities } } as JSONRPCMessage;
  };
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

/** Where the filter of a `subscriptions/listen` stream's notifications is kept: no request id looks like it. */
const NOTIFICATIONS = 'notifications';

/**
 * A 2026-07-28 `subscriptions/listen` stream carries change notifications for a long time: a resource update
 * names a URI, which the caller sees only when it may read that resource (in its normal form, as a request
 * for it would be decided).
 */
function listenRewrite(allowList: AllowList | undefined, grant: ReturnType<ScopePolicy['grantFor']> | undefined): Rewrite | undefined {
  if (!allowList?.restrictsKind('resource') && !grant) return undefined;
  return (message) => {
    if (!('method' in message) || message.method !== 'notifications/resources/updated') return message;
    const target = resourceTarget(String((message.params as { uri?: unknown } | undefined)?.uri ?? ''));
    const permitted = !target.invalid && (allowList?.permits(target) ?? true) && (grant?.permits(target) ?? true);
    // AnswerFilter's rewrites return messages; this one alone may drop one, which applyStreamFilter passes on.
    return permitted ? message : (null as unknown as JSONRPCMessage);
  };
}

/** A message of a streamed answer as the caller may see it: answers by their request, notifications of a listen stream by its filter; null drops it. */
export function applyStreamFilter(message: JSONRPCMessage, answers: AnswerFilter): JSONRPCMessage | null {
  if (isResponse(message)) return applyFilter(message, answers);
  const rewrite = 'method' in message ? answers.get(NOTIFICATIONS) : undefined;
  return rewrite ? rewrite(message) : message;
}

/** The answer as the caller may see it. */
export function applyFilter(message: JSONRPCMessage, answers: AnswerFilter): JSONRPCMessage {
  if (!isResponse(message)) return message;
  const rewrite = answers.get(idKey(message.id));
  return rewrite ? rewrite(message) : message;
}
