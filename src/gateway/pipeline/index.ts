import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Authenticator } from '../../resource/authenticator.js';
import type { ChallengeSchemes } from './authenticate.js';
import type { AllowList, ScopePolicy } from '../../policy/index.js';
import type { Upstream } from '../upstreams/upstream.js';
import type { UpstreamIdentity } from './identify.js';
import { readMessages, transport, type Endpoint, type TransportParts } from './transport.js';
import { authenticate } from './authenticate.js';
import { session } from './session.js';
import { boundStates, standardHeaders } from './protocol.js';
import { RequestStates } from './request-state.js';
import { authorize } from './authorize.js';
import { decidePolicies, type PolicyParts } from './policy.js';
import { rateLimit, type Limiters } from './rate-limit.js';
import { auditStep, type AuditParts } from './audit.js';
import { filter } from './filter.js';
import { after, type AfterParts, type Finished } from './after.js';
import { Refusal, type Trace } from './stage.js';
import type { AuditDecision } from '../../audit/index.js';

export { Refusal, type Trace, type Identified, type Decided, type AnswerFilter } from './stage.js';
export { authorize } from './authorize.js';
export { decidePolicies } from './policy.js';
export { auditStep } from './audit.js';
export { filter, applyFilter } from './filter.js';
export { tooMany, type Limiters } from './rate-limit.js';
export type { Endpoint } from './transport.js';
export type { Finished } from './after.js';

export interface PipelineParts extends TransportParts, AuditParts, AfterParts, PolicyParts {
  authenticator: Authenticator;
  audiences(upstream: string): readonly string[];
  schemes?: ChallengeSchemes;
  dpopNonce?: () => string;
  allowLists: ReadonlyMap<string, AllowList>;
  scopes?: ScopePolicy;
  recordArguments?: (args: unknown) => unknown;
  limiters: Limiters;
  identities: ReadonlyMap<string, UpstreamIdentity>;
  upstreams: ReadonlyMap<string, Upstream>;
  /** The key that seals `requestState`, shared by all instances when Redis is configured; else one of this process. */
  requestStateKey?: () => Buffer;
}

export interface Pipeline {
  /** Steps 1–8 for a request on an MCP endpoint; a refusal is thrown as the GatewayError to answer. */
  run(req: IncomingMessage, res: ServerResponse, endpoint: Endpoint, finished: Finished): Promise<void>;
  /** Step 9, registered for every request the gateway receives (also those that never reach an endpoint). */
  afterward(finished: Finished): void;
}

/**
 * The request lifecycle, in DESIGN.md's order and no other. Each step has one job and the same contract: it
 * takes the stage the steps before it built and hands on a richer one, or ends the request by throwing — a
 * `Refusal` from authenticate on is committed to the audit chain as that refusal before it is answered.
 */
export function httpPipeline(parts: PipelineParts): Pipeline {
  const states = new RequestStates(undefined, undefined, parts.requestStateKey);
  const steps = {
    transport: transport(parts),
    read: readMessages(parts),
    authenticate: authenticate(parts),
    standardHeaders: standardHeaders(),
    session: session(parts),
    authorize: authorize(parts),
    policies: decidePolicies(parts),
    rateLimit: rateLimit(parts),
    audit: auditStep(parts),
    filter: filter({ ...parts, states }),
    states: boundStates(states),
  };
  const commit = committing(steps.audit);
  const afterward = after(parts); // 9. after the answer: access log, metrics, outcome record
  const run: Pipeline['run'] = async (req, res, endpoint, finished) => {
    const { trace } = finished;
    finished.upstream = endpoint.upstream;
    const received = steps.transport(req, res, endpoint, finished); // 1: the headers
    const decided = await commit(async () => {
      const caller = await steps.read(await steps.authenticate(received), finished); // 2, then 1: the body
      steps.standardHeaders(caller); // 1c: 2026-07-28 headers agree with the body
      await steps.session(caller); // 3
      let allowed;
      try {
        allowed = await steps.policies(steps.authorize(caller)); // 4: scopes, then policies
      } catch (err) {
        // A refused call spends the caller's budgets too, so probing for what is allowed is throttled.
        if (err instanceof Refusal) await steps.rateLimit(caller);
        throw err;
      }
      steps.states(allowed); // 4b: a multi round-trip retry brings back the state sealed for this caller and request
      await steps.rateLimit(allowed); // 5
      return allowed;
    }, received.requestId, trace); // 6
    const answers = steps.filter(decided); // 8, applied by forward as the answer streams back
    const outgoing = await parts.identities.get(decided.upstream)!.attach(decided); // 7: forward
    trace.forwarded = decided.decisions.find((d) => d.decision === 'allow');
    await parts.upstreams.get(decided.upstream)!.handle(outgoing, answers);
  };
  return { run, afterward };
}

/**
 * Step 6 around the deciding steps, for any transport: runs them, then commits the decisions before anything
 * is forwarded — or, when a step refused, commits the refusal's records and throws the error to answer.
 */
export function committing(audit: ReturnType<typeof auditStep>) {
  return async <D extends { decisions: readonly AuditDecision[] }>(decide: () => D | Promise<D>, requestId: string, trace?: Trace): Promise<D> => {
    let decided: D;
    try {
      decided = await decide();
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      if (trace) trace.decisions = err.records;
      await audit(err.records, requestId);
      throw err.error;
    }
    if (trace) trace.decisions = decided.decisions;
    await audit(decided.decisions, requestId);
    return decided;
  };
}
