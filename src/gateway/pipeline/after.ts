import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../shared/log.js';
import type { RequestId } from '../../shared/jsonrpc.js';
import { toAuditRecord, type AuditSink } from '../../audit/index.js';
import type { GatewayMetrics } from '../metrics.js';
import type { Trace } from './stage.js';

export interface AfterParts {
  audit: AuditSink;
  /** `audit.outcomes`: which forwarded calls get an outcome record. */
  outcomes: 'all' | 'failures';
  instance: string;
  log: Logger;
  metrics: GatewayMetrics | undefined;
}

/** What the after-phase knows of a request that may never have become a call (a 404, a refused Origin). */
export interface Finished {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  path: string;
  started: number;
  /** Set once the request was routed to an upstream. */
  upstream?: string;
  ip?: string;
  rpc?: string[];
  /** What an error answer carries: the id of a sole request, the CORS headers of an allowed Origin. */
  answerId: RequestId | null;
  answerHeaders: Readonly<Record<string, string>>;
  trace: Trace;
}

/**
 * Step 9, off the hot path: once the answer has ended (or the caller left), the access log line, the
 * metrics, and for a call that reached the upstream its `outcome` record, chained after its decisions.
 * Nothing here holds up an answer.
 */
export function after({ audit, outcomes, instance, log, metrics }: AfterParts): (done: Finished) => void {
  const logRequests = log.isLevelEnabled('info');
  return (done) => {
    const write = () => {
      const ms = Math.round((performance.now() - done.started) * 10) / 10;
      const { res, trace } = done;
      if (logRequests) {
        log.info({ requestId: done.requestId, method: done.req.method, path: done.path, status: res.statusCode, ms, ip: done.ip, ...(done.rpc ? { rpc: done.rpc } : {}) }, 'request');
      }
      const error = trace.error ?? (res.writableFinished ? undefined : 'client_closed');
      if (trace.forwarded && (outcomes === 'all' || error !== undefined || res.statusCode >= 400)) {
        const record = toAuditRecord({ ...trace.forwarded, reason: res.writableFinished ? 'answered' : 'connection closed before the answer ended' }, instance);
        record.event = 'outcome';
        delete record.arguments;
        record.status = res.statusCode;
        record.latencyMs = ms;
        if (error) record.error = error;
        audit.write(record, { deferred: true }).catch((err: Error) => log.error({ requestId: done.requestId, err: err.message }, 'could not record the outcome of a call'));
      }
      if (done.upstream !== undefined || done.path.startsWith('/mcp')) {
        metrics?.observe({ upstream: done.upstream, httpMethod: done.req.method ?? '', status: res.statusCode, seconds: ms / 1000, decisions: trace.decisions });
      }
    };
    if (done.res.writableFinished || done.res.destroyed) write();
    else done.res.once('close', write);
  };
}
