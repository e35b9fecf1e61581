import type { Upstream } from '../upstreams/upstream.js';
import { sessionOwner } from '../upstreams/session-bindings.js';
import { denials, Refusal, type HttpCaller } from './stage.js';

/**
 * Step 3: an `Mcp-Session-Id` belongs to the principal that opened it. Another principal's session, or one
 * this instance does not know, is refused as if it did not exist (404, so the client initializes again) and
 * recorded as the refusal it is, before any decision on what the request asks. (A 2026-07-28 request names
 * no session; the upstream still says whether it can take it, e.g. a stdio upstream at its caps.)
 */
export function session({ upstreams }: { upstreams: ReadonlyMap<string, Upstream> }): (call: HttpCaller) => Promise<void> {
  return async (call) => {
    // Asynchronous only when the session is not this instance's and the shared directory must be asked.
    const problem = await upstreams.get(call.upstream)!.sessionProblem(call, sessionOwner(call.principal));
    if (problem) throw new Refusal(problem.error, denials(call, problem.reason));
  };
}
