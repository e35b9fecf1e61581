import type { Principal } from '../../shared/principal.js';
import type { McpTarget } from '../targets.js';

/**
 * One question for a policy decision point, independent of Cedar's JSON and of the transport: who, which
 * action, on what, in which context. The local Cedar engine and the AuthZEN client and server all speak it, so
 * a decision asked remotely is the same question as one asked here.
 */
export interface PolicyRequest {
  principal: PolicyPrincipal;
  action: PolicyAction;
  /** A tool, resource or prompt of an upstream; for list actions the upstream itself (no target). */
  resource: { upstream: string; target?: McpTarget };
  context: PolicyContext;
}

export type PrincipalType = 'User' | 'Service' | 'Machine';

/** The principal's attributes as policies see them (the schema's `User`/`Service`/`Machine`). */
export interface PolicyPrincipal {
  type: PrincipalType;
  subject: string;
  tenant?: string;
  roles: string[];
  scopes: string[];
  credentialKind: string;
  clientId?: string;
  issuer?: string;
  certificate?: { subject: string; thumbprint: string };
}

export interface PolicyActor {
  subject: string;
  roles: string[];
  clientId?: string;
  credentialKind: string;
}

export interface PolicyContext {
  /** Tool or prompt arguments as sent; absent for other actions and when a list is filtered. */
  arguments?: unknown;
  time: { hour: number; minute: number; weekday: number; date: string };
  ip?: string;
  actor?: PolicyActor;
  /** The delegation chain's subjects, nearest first. */
  actors: string[];
  transport: 'http' | 'stdio';
  listing: boolean;
}

/** The schema's actions: one per MCP method that names something, one per list. */
export const ACTIONS = {
  'tools/call': 'call_tool',
  'prompts/get': 'get_prompt',
  'resources/read': 'read_resource',
  'resources/subscribe': 'subscribe_resource',
  'resources/unsubscribe': 'unsubscribe_resource',
  'tools/list': 'list_tools',
  'resources/list': 'list_resources',
  'resources/templates/list': 'list_resource_templates',
  'prompts/list': 'list_prompts',
} as const;
export type PolicyAction = (typeof ACTIONS)[keyof typeof ACTIONS] | 'complete_prompt' | 'complete_resource';
export const POLICY_ACTIONS: readonly PolicyAction[] = [...new Set<PolicyAction>([...Object.values(ACTIONS), 'complete_prompt', 'complete_resource'])];

/** The action a JSON-RPC method is decided as, or undefined for methods policies do not see (initialize, ping, notifications). */
export function actionOf(method: string, target: McpTarget | undefined): PolicyAction | undefined {
  if (method === 'completion/complete') return target?.kind === 'prompt' ? 'complete_prompt' : 'complete_resource';
  return Object.hasOwn(ACTIONS, method) ? ACTIONS[method as keyof typeof ACTIONS] : undefined;
}

/** The schema's principal type: a client certificate is a Machine, an OAuth client acting for itself a Service, anyone else a User. */
export function principalType(p: Pick<Principal, 'subject' | 'clientId' | 'credential'>): PrincipalType {
  if (p.credential.kind === 'mtls') return 'Machine';
  if (p.clientId !== undefined && p.subject === p.clientId) return 'Service';
  return 'User';
}

export function policyPrincipal(p: Principal): PolicyPrincipal {
  // The certificate of the request: beside a token, or the credential itself (a Machine).
  const thumbprint = p.certificate ?? (p.credential.kind === 'mtls' ? p.credential.id : undefined);
  return {
    type: principalType(p),
    subject: p.subject,
    ...(p.tenant !== undefined ? { tenant: p.tenant } : {}),
    roles: [...p.roles],
    scopes: [...p.scopes],
    credentialKind: p.credential.kind,
    ...(p.clientId !== undefined ? { clientId: p.clientId } : {}),
    ...(p.issuer !== undefined ? { issuer: p.issuer } : {}),
    ...(thumbprint !== undefined && p.certificateSubject !== undefined ? { certificate: { subject: p.certificateSubject, thumbprint } } : {}),
  };
}

/** The nearest actor and the chain's subjects. */
export function delegation(principal: Principal): Pick<PolicyContext, 'actor' | 'actors'> {
  const actors: string[] = [];
  for (let a = principal.actor; a && actors.length < 16; a = a.actor) actors.push(a.subject);
  const near = principal.actor;
  if (!near) return { actors };
  return {
    actor: { subject: near.subject, roles: [...near.roles], credentialKind: near.credential.kind, ...(near.clientId !== undefined ? { clientId: near.clientId } : {}) },
    actors,
  };
}
