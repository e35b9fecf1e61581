import { isIP } from 'node:net';
import type { CedarValueJson, Context, EntityJson, EntityUidJson } from './wasm.js';
import type { PolicyRequest } from './request.js';

/**
 * A `PolicyRequest` in Cedar's JSON: uids, the context and the request's own entities (principal, resource,
 * upstream). Caller-controlled text (tool arguments) is converted so that it can only ever be data: Cedar's JSON
 * reads `__entity` and `__extn` keys as entity references and extension values, so records holding them are
 * not passed on as records.
 */

const RESOURCE_TYPE = { tool: 'Tool', resource: 'Resource', prompt: 'Prompt' } as const;

/** Bounds on converted arguments: what is beyond them becomes a marker string (see `argumentValue`). */
const ARGUMENT_LIMITS = { depth: 4, keys: 64, items: 64, stringLength: 1024, nodes: 512 } as const;
/** What an argument becomes when it cannot be represented faithfully. */
export const UNREPRESENTABLE = '[unrepresentable]';

export interface CedarRequest {
  principal: EntityUidJson & { type: string; id: string };
  action: { type: 'Action'; id: string };
  resource: { type: string; id: string };
  context: Context;
  /** The request's own entities; the static ones (entities.json) are merged in by the engine. */
  entities: EntityJson[];
}

export function toCedar(request: PolicyRequest): CedarRequest {
  const { principal: p, resource: r, context: c } = request;
  const principal = { type: p.type, id: p.subject };
  // Fields may be absent: the engine passes only what the policies read.
  const attrs: Record<string, CedarValueJson> = { subject: p.subject };
  if (p.roles !== undefined) attrs.roles = p.roles;
  if (p.scopes !== undefined) attrs.scopes = p.scopes;
  if (p.credentialKind !== undefined) attrs.credentialKind = p.credentialKind;
  if (p.tenant !== undefined) attrs.tenant = p.tenant;
  if (p.clientId !== undefined) attrs.clientId = p.clientId;
  if (p.issuer !== undefined) attrs.issuer = p.issuer;
  if (p.certificate) attrs.certificate = { subject: p.certificate.subject, thumbprint: p.certificate.thumbprint };
  const upstream = { type: 'Upstream', id: r.upstream };
  const entities: EntityJson[] = [
    { uid: principal, attrs, parents: p.tenant !== undefined ? [{ type: 'Tenant', id: p.tenant }] : [] },
    { uid: upstream, attrs: { name: r.upstream }, parents: [] },
  ];
  let resource: { type: string; id: string } = upstream;
  if (r.target) {
    resource = { type: RESOURCE_TYPE[r.target.kind], id: resourceId(r.upstream, r.target.name) };
    entities.push({ uid: resource, attrs: { name: r.target.name, upstream: { __entity: upstream } }, parents: [upstream] });
  }
  const context: Context = {};
  if (c.time !== undefined) context.time = { ...c.time };
  if (c.actors !== undefined) context.actors = c.actors;
  if (c.transport !== undefined) context.transport = c.transport;
  if (c.listing !== undefined) context.listing = c.listing;
  if (c.arguments !== undefined) context.arguments = argumentRecord(c.arguments);
  if (c.ip !== undefined && isIP(c.ip) !== 0) context.ip = { __extn: { fn: 'ip', arg: c.ip } };
  if (c.actor) context.actor = Object.fromEntries(Object.entries(c.actor).filter(([, v]) => v !== undefined)) as Record<string, CedarValueJson>;
  return { principal, action: { type: 'Action', id: request.action }, resource, context, entities };
}

/** `<upstream>/<name>`: how the schema names a tool, resource or prompt (a resource's name is its URI). */
function resourceId(upstream: string, name: string): string {
  return `${upstream}/${name}`;
}

/** Arguments are a record in the schema; anything else the caller sent (an array, a string) is recorded under no field. */
function argumentRecord(args: unknown): Record<string, CedarValueJson> {
  if (args === null || typeof args !== 'object' || Array.isArray(args)) return {};
  const budget = { nodes: ARGUMENT_LIMITS.nodes };
  const value = argumentValue(args, 0, budget);
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, CedarValueJson>) : {};
}

/**
 * One argument as a Cedar value. What cannot be represented faithfully (a fractional or unsafe number, too deep,
 * too long, too many items, a record naming `__entity`/`__extn`) becomes the string `[unrepresentable]` rather
 * than disappearing: a policy testing it (`amount > 100`) then errors instead of reading "absent", and a forbid
 * policy that errors denies (see the engine). Nulls are left out, as JSON-Schema tools treat them as absent.
 */
function argumentValue(value: unknown, depth: number, budget: { nodes: number }): CedarValueJson | undefined {
  if (value === null || value === undefined) return undefined;
  if (--budget.nodes < 0) return UNREPRESENTABLE;
  switch (typeof value) {
    case 'boolean':
      return value;
    case 'number':
      return Number.isSafeInteger(value) ? value : UNREPRESENTABLE;
    case 'string':
      return value.length <= ARGUMENT_LIMITS.stringLength ? value : UNREPRESENTABLE;
    case 'object': {
      if (depth >= ARGUMENT_LIMITS.depth) return UNREPRESENTABLE;
      if (Array.isArray(value)) {
        if (value.length > ARGUMENT_LIMITS.items) return UNREPRESENTABLE;
        const items: CedarValueJson[] = [];
        for (const item of value) {
          const v = argumentValue(item, depth + 1, budget);
          if (v !== undefined) items.push(v);
        }
        return items;
      }
      const keys = Object.keys(value);
      if (keys.length > ARGUMENT_LIMITS.keys || keys.includes('__entity') || keys.includes('__extn') || keys.includes('__expr')) return UNREPRESENTABLE;
      const entries: [string, CedarValueJson][] = [];
      for (const key of keys) {
        const v = argumentValue((value as Record<string, unknown>)[key], depth + 1, budget);
        if (v !== undefined) entries.push([key, v]);
      }
      // fromEntries defines own properties, so a key named `__proto__` stays a key.
      return Object.fromEntries(entries);
    }
    default:
      return UNREPRESENTABLE;
  }
}
