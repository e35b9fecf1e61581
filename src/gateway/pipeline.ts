import type { Logger } from '../shared/log.js';
import { GatewayError } from '../shared/errors.js';
import { idKey, isJSONRPCRequest, type JSONRPCMessage } from '../shared/jsonrpc.js';
import type { Authenticator } from '../resource/authenticator.js';
import { AllowList, targetOf } from '../policy/index.js';
import type { TokenBucketLimiter } from '../ratelimit/index.js';
import { toAuditRecord, type AuditDecision, type AuditSink } from '../audit/index.js';
import type { Exchange } from './exchange.js';
import type { Upstream } from './upstream.js';

/**
 * One step of the request pipeline: it reads what earlier steps put on the exchange, adds its own part, and
 * throws a GatewayError to stop the request. DESIGN.md fixes the order; so does `buildPipeline`.
 */
export type Step = (ex: Exchange) => void | Promise<void>;

export interface PipelineParts {
  authenticator: Authenticator;
  allowLists: ReadonlyMap<string, AllowList>;
  ipLimiter?: TokenBucketLimiter;
  audit: AuditSink;
  upstreams: ReadonlyMap<string, Upstream>;
  log: Logger;
}

const UNRESTRICTED = new AllowList();

export function buildPipeline(parts: PipelineParts): Step[] {
  return [authenticate(parts), authorize(parts), rateLimit(parts), audit(parts), forward(parts)];
}

export async function runPipeline(steps: readonly Step[], ex: Exchange): Promise<void> {
  for (const step of steps) await step(ex);
}

function authenticate({ authenticator }: PipelineParts): Step {
  return async (ex) => {
    ex.principal = await authenticator.authenticate(ex.req);
  };
}

/**
 * Decides every request in the body. A denial is not answered here: `audit` first commits the record of it.
 * Allowed list requests get a rewrite that removes what the caller may not use.
 */
function authorize({ allowLists }: PipelineParts): Step {
  return (ex) => {
    const allowList = allowLists.get(ex.upstreamName);
    const list: AuditDecision[] = [];
    let denial: GatewayError | undefined;
    for (const message of ex.messages ?? []) {
      if (!isJSONRPCRequest(message)) continue;
      const target = targetOf(message);
      const { allowed, reason } = (allowList ?? UNRESTRICTED).decide(target);
      list.push({
        requestId: ex.requestId,
        principal: ex.principal!,
        upstream: ex.upstreamName,
        method: message.method,
        ...(target ? { target } : {}),
        decision: allowed ? 'allow' : 'deny',
        reason,
        ip: ex.ip,
        ...(ex.req.headers['user-agent'] ? { userAgent: ex.req.headers['user-agent'] } : {}),
      });
      if (!allowed) {
        denial ??= new GatewayError('forbidden', `Forbidden: ${target!.kind} '${target!.name.slice(0, 200)}' is not allowed on upstream '${ex.upstreamName}'`);
      } else if (allowList?.filtersList(message.method)) {
        ex.rewrites ??= new Map();
        const method = message.method;
        ex.rewrites.set(idKey(message.id), (answer: JSONRPCMessage) => allowList.filterListAnswer(method, answer));
      }
    }
    ex.decisions = list;
    if (denial) ex.denial = denial;
  };
}

function rateLimit({ ipLimiter }: PipelineParts): Step {
  return (ex) => {
    if (!ipLimiter) return;
    const verdict = ipLimiter.take(ex.ip);
    if (!verdict.ok) {
      throw new GatewayError('rate_limited', `Too many requests from ${ex.ip}; retry in ${verdict.retryAfterSeconds} s`, {
        'retry-after': String(verdict.retryAfterSeconds),
      });
    }
  };
}

/** Commits one record per decision before anything is forwarded or refused. */
function audit({ audit: sink, log }: PipelineParts): Step {
  return async (ex) => {
    try {
      for (const d of ex.decisions ?? []) await sink.write(toAuditRecord(d));
    } catch (err) {
      // Fail closed: a call that cannot be recorded is not made.
      log.error({ requestId: ex.requestId, err: (err as Error).message }, 'audit write failed; refusing the request');
      throw new GatewayError('internal_error', 'The audit log cannot be written, so the request was refused; see the gateway log');
    }
    if (ex.denial) throw ex.denial;
  };
}

function forward({ upstreams }: PipelineParts): Step {
  return (ex) => upstreams.get(ex.upstreamName)!.handle(ex);
}
