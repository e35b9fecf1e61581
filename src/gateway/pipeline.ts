import type { Logger } from '../shared/log.js';
import { GatewayError } from '../shared/errors.js';
import { ANONYMOUS, type Principal } from '../shared/principal.js';
import { isJSONRPCRequest } from '../shared/jsonrpc.js';
import type { Authenticator } from '../resource/authenticator.js';
import { isAuthenticationError, type AuthenticationError } from '../resource/errors.js';
import { bearerChallenge } from '../resource/challenge.js';
import { metadataUrlFor } from '../resource/metadata.js';
import type { AllowList, ScopePolicy } from '../policy/index.js';
import type { TokenBucketLimiter } from '../ratelimit/index.js';
import { toAuditRecord, type AuditDecision, type AuditSink } from '../audit/index.js';
import { decideAll } from './authorize.js';
import type { Exchange } from './exchange.js';
import type { UpstreamIdentity } from './identity.js';
import type { Upstream } from './upstream.js';

/**
 * One step of the request pipeline: it reads what earlier steps put on the exchange, adds its own part, and
 * throws a GatewayError to stop the request. DESIGN.md fixes the order; so does `buildPipeline`.
 */
export type Step = (ex: Exchange) => void | Promise<void>;

export interface Limiters {
  ip?: TokenBucketLimiter;
  principal?: TokenBucketLimiter;
  key?: TokenBucketLimiter;
}

export interface PipelineParts {
  authenticator: Authenticator;
  allowLists: ReadonlyMap<string, AllowList>;
  /** Per-tool authorization by scope; absent with `auth: none`, where only allow-lists apply. */
  scopes?: ScopePolicy;
  limiters: Limiters;
  audit: AuditSink;
  /** Names this gateway in audit records. */
  instance: string;
  /** When set, tool arguments are recorded after passing through it (redaction and size cap). */
  recordArguments?: (args: unknown) => unknown;
  identities: ReadonlyMap<string, UpstreamIdentity>;
  upstreams: ReadonlyMap<string, Upstream>;
  /** The resource URLs of an upstream: what an access token's audience must be. */
  audiences(upstream: string): readonly string[];
  log: Logger;
}

export function buildPipeline(parts: PipelineParts): Step[] {
  return [authenticate(parts), authorize(parts), rateLimit(parts), audit(parts), identify(parts), forward(parts)];
}

export async function runPipeline(steps: readonly Step[], ex: Exchange): Promise<void> {
  for (const step of steps) await step(ex);
}

/**
 * A refused credential gets a 401 challenge (or 400 for a credential in the URL), and its audit record.
 * Failures also spend the caller's per-IP budget, so guessing keys is throttled like any other traffic.
 */
function authenticate({ authenticator, audiences, limiters, audit: sink, instance, log }: PipelineParts): Step {
  return async (ex) => {
    try {
      ex.principal = await authenticator.authenticate(ex.req, { audiences: audiences(ex.upstreamName) });
    } catch (err) {
      if (!isAuthenticationError(err)) throw err;
      const verdict = limiters.ip?.take(ex.ip);
      if (verdict && !verdict.ok) throw tooMany(`from ${ex.ip}`, verdict.retryAfterSeconds);
      // On the exchange too, so that metrics count refused credentials with the other decisions.
      ex.decisions = [failedAuthentication(ex, err)];
      await commit(sink, instance, log, ex, ex.decisions);
      throw refusal(ex, err);
    }
  };
}

function refusal(ex: Exchange, err: AuthenticationError): GatewayError {
  const challenge = bearerChallenge({
    resourceMetadata: metadataUrlFor(ex.resource),
    ...(err.error ? { error: err.error } : {}),
    ...(err.error === 'invalid_token' ? { description: 'the credential is not valid' } : {}),
  });
  return new GatewayError(err.error === 'invalid_request' ? 'credential_in_url' : 'unauthorized', err.message, { 'www-authenticate': challenge });
}

function failedAuthentication(ex: Exchange, err: AuthenticationError): AuditDecision {
  const first = ex.messages?.find(isJSONRPCRequest);
  // Only a credential that was sent has a kind; its id is the public key id when one could be read.
  const credential: Principal['credential'] = err.error ? { kind: 'api_key', id: err.credentialId ?? '-' } : { kind: 'none', id: '-' };
  const principal: Principal = { ...ANONYMOUS, subject: '-', credential };
  return {
    event: 'authentication',
    requestId: ex.requestId,
    principal,
    upstream: ex.upstreamName,
    method: first?.method ?? `HTTP ${ex.req.method}`,
    decision: 'deny',
    reason: `authentication failed: ${err.error ?? 'no credential'}`,
    ip: ex.ip,
    ...userAgent(ex),
  };
}

/** Decides every request in the body. A denial is not answered here: `audit` first commits the record of it. */
function authorize({ allowLists, scopes, recordArguments }: PipelineParts): Step {
  return (ex) => {
    const { decisions, denial, rewrites } = decideAll(ex, allowLists.get(ex.upstreamName), scopes, recordArguments);
    ex.decisions = decisions;
    if (rewrites.size > 0) ex.rewrites = rewrites;
    if (denial) ex.denial = denial;
  };
}

function rateLimit({ limiters }: PipelineParts): Step {
  return (ex) => {
    const ip = limiters.ip?.take(ex.ip);
    if (ip && !ip.ok) throw tooMany(`from ${ex.ip}`, ip.retryAfterSeconds);
    const principal = ex.principal;
    if (!principal || principal.credential.kind === 'none') return;
    const user = limiters.principal?.take(`${principal.tenant ?? ''}\u0000${principal.subject}`);
    if (user && !user.ok) throw tooMany(`for ${principal.subject}`, user.retryAfterSeconds);
    const key = limiters.key?.take(`${principal.credential.kind}\u0000${principal.credential.id}`);
    if (key && !key.ok) throw tooMany(`for credential ${principal.credential.id}`, key.retryAfterSeconds);
  };
}

export function tooMany(whose: string, retryAfterSeconds: number): GatewayError {
  return new GatewayError('rate_limited', `Too many requests ${whose}; retry in ${retryAfterSeconds} s`, { 'retry-after': String(retryAfterSeconds) });
}

/** Commits one record per decision before anything is forwarded or refused. */
function audit({ audit: sink, instance, log }: PipelineParts): Step {
  return async (ex) => {
    await commit(sink, instance, log, ex, ex.decisions ?? []);
    if (ex.denial) throw ex.denial;
  };
}

async function commit(sink: AuditSink, instance: string, log: Logger, ex: Exchange, decisions: AuditDecision[]): Promise<void> {
  try {
    // All at once: with group commit they share one transaction.
    const now = new Date();
    await Promise.all(decisions.map((d) => sink.write(toAuditRecord(d, instance, now))));
  } catch (err) {
    // Fail closed: a call that cannot be recorded is not made.
    log.error({ requestId: ex.requestId, err: (err as Error).message }, 'audit write failed; refusing the request');
    throw new GatewayError('internal_error', 'The audit log cannot be written, so the request was refused; see the gateway log');
  }
}

function identify({ identities }: PipelineParts): Step {
  return (ex) => identities.get(ex.upstreamName)?.attach(ex);
}

function forward({ upstreams }: PipelineParts): Step {
  return (ex) => {
    ex.forwarded = true;
    return upstreams.get(ex.upstreamName)!.handle(ex);
  };
}

function userAgent(ex: Exchange): { userAgent?: string } {
  const ua = ex.req.headers['user-agent'];
  return ua ? { userAgent: ua } : {};
}
