import type { JSONRPCMessage } from '../shared/jsonrpc.js';
import { LIST_METHODS, resourceTarget, type McpTarget } from './targets.js';

/** Whether a caller may use one target; the only thing list filtering needs to know about a policy. */
export type Permits = (target: McpTarget) => boolean;

/**
 * The result of a list method with the items `permits` refuses taken out, so a caller never sees what it may
 * not use. Items without a string name are dropped too: an item the policy cannot name is one it cannot
 * vouch for. Results of other methods, and results that are not shaped like a list, pass unchanged (the
 * same object): rewriting what we do not understand could only corrupt it, and it lists nothing.
 * The input is never mutated.
 */
export function filterListResult(method: string, result: unknown, permits: Permits): unknown {
  const list = LIST_METHODS[method];
  if (!list || result === null || typeof result !== 'object') return result;
  const items = (result as Record<string, unknown>)[list.field];
  if (!Array.isArray(items)) return result;
  const kept = items.filter((item) => {
    const name = (item as Record<string, unknown> | null)?.[list.key];
    if (typeof name !== 'string') return false;
    // A resource is decided on in its normal form, as a request for it would be; one that has none is hidden.
    const target = list.kind === 'resource' ? resourceTarget(name) : { kind: list.kind, name };
    return !target.invalid && permits(target);
  });
  return { ...(result as Record<string, unknown>), [list.field]: kept };
}

/**
 * A JSON-RPC answer to a `method` request with its list filtered. Error answers, answers to other methods
 * and malformed results pass unchanged (the same object), so callers may hand every answer through.
 */
export function filterListAnswer(method: string, answer: JSONRPCMessage, permits: Permits): JSONRPCMessage {
  if (!('result' in answer)) return answer;
  const result = filterListResult(method, answer.result, permits);
  return result === answer.result ? answer : ({ ...answer, result } as JSONRPCMessage);
}
