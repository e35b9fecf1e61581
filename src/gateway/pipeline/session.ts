import type { Upstream } from '../upstreams/upstream.js';
import { sessionOwner } from '../upstreams/session-bindings.js';
import { denials, Refusal, type HttpCaller } from './stage.js';

/**
 * Step 3: an `Mcp-Session-Id` belongs to the principal that opened it. Another principal's session, or one
 * this instance does not know, is refused as if it did not exist (404, so the client initializes again) and
 * recorded as the refusal it is, before any decision on what the request asks.
 */
export function session({ upstreams }: { upstreams: ReadonlyMap<string, Upstream> }): (call: HttpCaller) => void {
  return (call) => {
    if (call.era === 'modern') return; // 2026-07-28 has no sessions
    const problem = upstreams.get(call.upstream)!.sessionProblem(call, sessionOwner(call.principal));
    if (problem) throw new Refusal(problem.error, denials(call, problem.reason));
  };
}
