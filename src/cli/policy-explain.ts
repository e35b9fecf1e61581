import type { WardenConfig } from '../config/index.js';
import type { Store } from '../store/index.js';
import { parseAuditRow } from '../audit/index.js';
import { CedarEngine, loadPolicySet, policySources, policyTime, verdictReason, actionOf, principalType, type PolicyRequest } from '../policy/cedar/index.js';
import type { Principal } from '../shared/principal.js';
import type { McpTarget } from '../policy/index.js';

export interface Explained {
  recorded: { ts: string; decision: string; reason: string; policies?: string[] };
  /** One line: who, what, where. */
  request: string;
  now: { decision: 'allow' | 'deny'; policies: string[]; errors: string[]; reason: string };
  /** True when the current set decides otherwise than the recorded decision. */
  changed: boolean;
  /** What of the inputs was not recorded and had to be filled in. */
  notes: string[];
}

/**
 * `warden policy explain <seq>`: rebuilds the policy request of a recorded call from the record (who, tenant,
 * client, credential kind, upstream, method, target, IP, time, arguments when they were recorded) and decides it
 * with the set on disk now. Roles and scopes are not in audit records: they come from the API key in the store,
 * or from --roles/--scopes. Returns a message instead when the record cannot be replayed.
 */
export async function explainRecord(config: WardenConfig, store: Store, seq: number, given: { roles?: string[]; scopes?: string[]; instance?: string }): Promise<Explained | string> {
  const cedar = config.authorization.cedar;
  if (!cedar) return 'the config has no authorization.cedar: there are no policies to replay against';
  // The chain that has a record numbered so: the one named, or the only one that does.
  const found: Awaited<ReturnType<typeof store.audit.scan>> = [];
  for (const chain of await store.audit.chains()) {
    if (given.instance !== undefined && chain.instance !== given.instance) continue;
    const [candidate] = await store.audit.scan(chain.instance, seq - 1, 1);
    if (candidate?.seq === seq) found.push(candidate);
  }
  if (found.length > 1) return `${found.length} instances' chains have a record ${seq} (${found.map((r) => r.instance).join(', ')}): name one with --instance`;
  const row = found[0];
  if (!row) return `no audit record ${seq}${given.instance !== undefined ? ` in the chain of ${given.instance}` : ''}; \`warden audit query\` shows the numbers and instances`;
  const record = parseAuditRow(row);
  const target = record.target !== undefined && (record.targetKind === 'tool' || record.targetKind === 'resource' || record.targetKind === 'prompt')
    ? { kind: record.targetKind, name: record.target } as McpTarget : undefined;
  const action = record.event === 'call' && record.upstream ? actionOf(record.method, target) : undefined;
  if (!action || !record.upstream) return `record ${seq} is a ${record.event} record of ${record.method}: only calls that policies decide (tools/call, resources/read, prompts/get, the lists) can be replayed`;

  const notes: string[] = [];
  let roles = given.roles;
  let scopes = given.scopes;
  if ((!roles || !scopes) && record.credential.kind === 'api_key') {
    const key = await store.apiKeys.get(record.credential.id);
    if (key) {
      roles ??= key.roles;
      scopes ??= key.scopes;
      notes.push(`roles and scopes of API key ${record.credential.id} as stored now`);
    }
  }
  if (!roles || !scopes) notes.push(`${roles ? 'scopes' : scopes ? 'roles' : 'roles and scopes'} not recorded: none assumed (--roles, --scopes)`);
  if (record.method === 'tools/call' && record.arguments === undefined) notes.push('arguments not recorded (audit.arguments.enabled): none assumed');
  else if (record.arguments !== undefined) notes.push('arguments as recorded (redacted values stay redacted)');
  if (!record.policies) notes.push('the recorded decision names no policy: the allow-list or the scopes made it, or Cedar was off');
  if (record.actor) notes.push(`acted for by ${record.actor}: the actor's roles are not recorded`);

  const request: PolicyRequest = {
    principal: {
      type: principalType({ subject: record.subject, ...(record.clientId !== undefined ? { clientId: record.clientId } : {}), credential: { kind: record.credential.kind as Principal['credential']['kind'], id: record.credential.id } }),
      subject: record.subject,
      ...(record.tenant !== undefined ? { tenant: record.tenant } : {}),
      roles: roles ?? [],
      scopes: scopes ?? [],
      credentialKind: record.credential.kind,
      ...(record.clientId !== undefined ? { clientId: record.clientId } : {}),
    },
    action,
    resource: { upstream: record.upstream, ...(target ? { target } : {}) },
    context: {
      ...(record.method === 'tools/call' || record.method === 'prompts/get' ? { arguments: record.arguments ?? {} } : {}),
      time: policyTime(new Date(record.ts), cedar.timeZone),
      ...(record.ip !== undefined ? { ip: record.ip } : {}),
      ...(record.actor ? { actor: { subject: record.actor, roles: [], credentialKind: 'oauth' }, actors: [record.actor] } : { actors: [] }),
      transport: 'http',
      listing: false,
    },
  };
  const verdict = new CedarEngine(loadPolicySet(policySources(cedar)), { cacheSize: 0 }).decide(request);
  const now = verdict.allowed ? 'allow' : 'deny';
  return {
    recorded: { ts: record.ts, decision: record.decision, reason: record.reason, ...(record.policies ? { policies: record.policies.determining } : {}) },
    request: `${record.subject}${record.tenant ? ` (tenant ${record.tenant})` : ''} ${action} ${target ? `${target.kind} '${target.name}'` : ''} on ${record.upstream}`.replace(/\s+/g, ' '),
    now: { decision: now, policies: verdict.determining.map((p) => p.id), errors: verdict.errors, reason: verdictReason(verdict) },
    changed: record.policies !== undefined && now !== record.decision,
    notes,
  };
}
