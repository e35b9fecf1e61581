import type { JSONRPCNotification } from '@modelcontextprotocol/sdk/types.js';
import { idKey, type JSONRPCMessage, type JSONRPCRequest, type RequestId, type ResponseMessage } from '../../shared/jsonrpc.js';

type ProgressToken = string | number;

interface Entry<C> {
  readonly call: C;
  readonly callerId: RequestId;
  readonly callerToken: ProgressToken | undefined;
}

/**
 * The requests of one session in flight towards its child, under ids the gateway assigns. A caller's ids
 * (and progress tokens) never reach the child: two requests with the same id, or the same token, cannot
 * share an entry, so an answer — and the list filter that belongs to it — always goes to the request it
 * answers. Child ids start at 1 and count up (the SDK ignores a cancellation of request 0); one child
 * would need 2^53 requests to run out.
 *
 * Server-to-client requests keep the child's ids: JSON-RPC ids are per direction, so they cannot collide
 * with these.
 */
export class InFlightRequests<C> {
  private next = 1;
  private readonly byChildId = new Map<number, Entry<C>>();
  private readonly byCallerId = new Map<string, number>();

  /** The first caller id among `requests` that is in flight already or repeated among them; undefined when none. */
  conflict(requests: readonly JSONRPCRequest[]): RequestId | undefined {
    const seen = new Set<string>();
    for (const r of requests) {
      const key = idKey(r.id);
      if (this.byCallerId.has(key) || seen.has(key)) return r.id;
      seen.add(key);
    }
    return undefined;
  }

  /** Records `request` for `call`; returns the copy to send to the child, with the gateway's id and progress token. */
  add(request: JSONRPCRequest, call: C): JSONRPCRequest {
    const childId = this.next++;
    const params = request.params as { _meta?: { progressToken?: ProgressToken } } | undefined;
    const callerToken = params?._meta?.progressToken;
    this.byChildId.set(childId, { call, callerId: request.id, callerToken });
    this.byCallerId.set(idKey(request.id), childId);
    if (callerToken === undefined) return { ...request, id: childId };
    // The child's progress token is its request id: unique for as long as the request lives.
    return { ...request, id: childId, params: { ...params, _meta: { ...params!._meta, progressToken: childId } } };
  }

  /** The child's answer with the caller's id, and the call that waits for it; undefined when nobody does. */
  settle(response: ResponseMessage): { call: C; message: ResponseMessage } | undefined {
    const entry = typeof response.id === 'number' ? this.byChildId.get(response.id) : undefined;
    if (!entry) return undefined;
    this.remove(response.id as number, entry);
    return { call: entry.call, message: { ...response, id: entry.callerId } };
  }

  /** A progress notification of the child with the caller's token, and its call; undefined for a token the gateway did not hand out. */
  progress(notification: JSONRPCNotification): { call: C; message: JSONRPCNotification } | undefined {
    const params = notification.params as { progressToken?: unknown } | undefined;
    const token = params?.progressToken;
    const entry = typeof token === 'number' ? this.byChildId.get(token) : undefined;
    if (!entry || entry.callerToken === undefined) return undefined;
    return { call: entry.call, message: { ...notification, params: { ...params, progressToken: entry.callerToken } } };
  }

  /**
   * A caller's `notifications/cancelled`, rewritten to name the child's id, and the request it ends (which
   * is no longer in flight); undefined when the caller has no such request in flight (then it is dropped).
   */
  cancel(notification: JSONRPCNotification): { call: C; callerId: RequestId; message: JSONRPCMessage } | undefined {
    const params = notification.params as { requestId?: unknown } | undefined;
    const requestId = params?.requestId;
    if (typeof requestId !== 'string' && typeof requestId !== 'number') return undefined;
    const childId = this.byCallerId.get(idKey(requestId));
    if (childId === undefined) return undefined;
    const entry = this.byChildId.get(childId)!;
    this.remove(childId, entry);
    return { call: entry.call, callerId: entry.callerId, message: { ...notification, params: { ...params, requestId: childId } } };
  }

  /** Forgets a request nobody waits for any more; returns its child id when it was still in flight. */
  release(callerId: RequestId, call: C): number | undefined {
    const childId = this.byCallerId.get(idKey(callerId));
    if (childId === undefined) return undefined;
    const entry = this.byChildId.get(childId)!;
    if (entry.call !== call) return undefined;
    this.remove(childId, entry);
    return childId;
  }

  private remove(childId: number, entry: Entry<C>): void {
    this.byChildId.delete(childId);
    this.byCallerId.delete(idKey(entry.callerId));
  }
}
