import { z } from 'zod';
import type { PolicyDecisionPoint, PolicyVerdict } from './decision.js';
import { POLICY_ACTIONS, type PolicyAction, type PolicyContext, type PolicyRequest } from './request.js';
import type { TargetKind } from '../targets.js';

/**
 * The OpenID AuthZEN Authorization API 1.0, evaluation endpoint (`POST <pdp>/access/v1/evaluation`), in both
 * directions: `toAuthZen` / `AuthZenClient` ask a remote PDP, `fromAuthZen` reads a question warden answers
 * from its own Cedar set. The mapping is the entity model's: subject = the principal (type User, Service or
 * Machine, its attributes as properties), action = the schema's action name, resource = a Tool, Resource or
 * Prompt "<upstream>/<name>" or an Upstream, context = the request context.
 */
export const EVALUATION_PATH = '/access/v1/evaluation';

const KIND_TYPE: Record<TargetKind, string> = { tool: 'Tool', resource: 'Resource', prompt: 'Prompt' };
const TYPE_KIND: Record<string, TargetKind> = { Tool: 'tool', Resource: 'resource', Prompt: 'prompt' };

export interface AuthZenRequest {
  subject: { type: string; id: string; properties: Record<string, unknown> };
  action: { name: string };
  resource: { type: string; id: string; properties: Record<string, unknown> };
  context: Record<string, unknown>;
}

export function toAuthZen(request: PolicyRequest): AuthZenRequest {
  const { type, subject, ...properties } = request.principal;
  const { upstream, target } = request.resource;
  return {
    subject: { type, id: subject, properties },
    action: { name: request.action },
    resource: target
      ? { type: KIND_TYPE[target.kind], id: `${upstream}/${target.name}`, properties: { upstream, name: target.name } }
      : { type: 'Upstream', id: upstream, properties: { upstream } },
    // The time is the PDP's to read, in its own zone: it is not sent.
    context: Object.fromEntries(Object.entries(request.context).filter(([k]) => k !== 'time')),
  };
}

const text = z.string().max(4096);
const names = z.array(text).max(256);
const evaluation = z.object({
  subject: z.object({
    type: z.enum(['User', 'Service', 'Machine']),
    id: text.min(1),
    properties: z.object({
      tenant: text.optional(), roles: names.default([]), scopes: names.default([]), credentialKind: text.default('none'),
      clientId: text.optional(), issuer: text.optional(),
      certificate: z.object({ subject: text, thumbprint: text }).optional(),
    }).default({ roles: [], scopes: [], credentialKind: 'none' }),
  }),
  action: z.object({ name: z.enum(POLICY_ACTIONS as [PolicyAction, ...PolicyAction[]]) }),
  resource: z.object({
    type: z.enum(['Tool', 'Resource', 'Prompt', 'Upstream']),
    id: text.min(1),
    properties: z.object({ upstream: text.min(1), name: text.optional() }),
  }),
  context: z.object({
    arguments: z.unknown().optional(),
    time: z.object({ hour: z.number().int().min(0).max(23), minute: z.number().int().min(0).max(59), weekday: z.number().int().min(0).max(6), date: text }).optional(),
    ip: text.optional(),
    actor: z.object({ subject: text, roles: names, clientId: text.optional(), credentialKind: text }).optional(),
    actors: names.default([]),
    transport: z.enum(['http', 'stdio']).default('http'),
    listing: z.boolean().default(false),
  }),
});

/**
 * A question from an AuthZEN client as a `PolicyRequest`; throws a message naming the field that is wrong.
 * Without `context.time` (warden sends none) the decision is about now, as `now()` gives it in this PDP's zone.
 */
export function fromAuthZen(body: unknown, now: () => PolicyContext['time']): PolicyRequest {
  const parsed = evaluation.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${issue.path.join('.') || 'body'}: ${issue.message}`);
  }
  const { subject, action, resource, context } = parsed.data;
  const kind = TYPE_KIND[resource.type];
  if (kind && resource.properties.name === undefined) throw new Error('resource.properties.name: required for a Tool, Resource or Prompt');
  return {
    principal: { type: subject.type, subject: subject.id, ...subject.properties },
    action: action.name,
    resource: { upstream: resource.properties.upstream, ...(kind ? { target: { kind, name: resource.properties.name! } } : {}) },
    context: { ...context, time: context.time ?? now() },
  } as PolicyRequest;
}

/** The answer: `decision`, and in `context` the determining policy ids and the caller-facing reason (never policy text). */
export function authZenAnswer(verdict: PolicyVerdict): { decision: boolean; context: Record<string, unknown> } {
  const reason = verdict.determining.find((p) => p.reason)?.reason;
  return {
    decision: verdict.allowed,
    context: {
      policies: verdict.determining.map((p) => p.id),
      ...(verdict.errors.length > 0 ? { errors: verdict.errors } : {}),
      ...(reason ? { reason_user: { en: reason } } : {}),
    },
  };
}

export interface AuthZenClientOptions {
  /** The PDP's base URL (the evaluation path is appended). */
  url: string;
  timeoutMs: number;
  token?: string;
}

/**
 * A remote policy decision point. Fails closed: a timeout, a refused connection, a status other than 200 or an
 * answer without a boolean `decision` is a deny that says why. It cannot filter lists (no `permitsItem`): items
 * are known only as the answer streams back, too late to ask a remote service for each.
 */
export class AuthZenClient implements PolicyDecisionPoint {
  private readonly endpoint: string;
  private answered = 0;
  private failed = 0;

  constructor(private readonly options: AuthZenClientOptions) {
    this.endpoint = `${options.url.replace(/\/+$/, '')}${EVALUATION_PATH}`;
  }

  async decide(request: PolicyRequest): Promise<PolicyVerdict> {
    let failure: string;
    try {
      const res = await fetch(this.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}) },
        body: JSON.stringify(toAuthZen(request)),
        signal: AbortSignal.timeout(this.options.timeoutMs),
        redirect: 'error',
      });
      const body = (await res.json().catch(() => undefined)) as { decision?: unknown; context?: { policies?: unknown; reason_user?: { en?: unknown } } } | undefined;
      if (res.status === 200 && typeof body?.decision === 'boolean') {
        this.answered++;
        const ids = Array.isArray(body.context?.policies) ? body.context.policies.filter((p): p is string => typeof p === 'string').slice(0, 16) : [];
        const reason = typeof body.context?.reason_user?.en === 'string' ? body.context.reason_user.en.slice(0, 300) : undefined;
        return { allowed: body.decision, determining: ids.map((id, i) => (i === 0 && reason ? { id, reason } : { id })), errors: [], by: 'authzen' };
      }
      failure = res.status === 200 ? 'the answer has no boolean decision' : `the PDP answered ${res.status}`;
    } catch (err) {
      failure = (err as Error).name === 'TimeoutError' ? `no answer within ${this.options.timeoutMs} ms` : `the PDP could not be reached (${(err as Error).message.slice(0, 100)})`;
    }
    this.failed++;
    return { allowed: false, determining: [], errors: [], by: 'authzen', failure };
  }

  status(): Record<string, unknown> {
    return { url: this.endpoint, answered: this.answered, failed: this.failed };
  }
}
