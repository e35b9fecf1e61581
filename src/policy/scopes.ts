import { GlobSet } from '../shared/glob.js';
import type { JSONRPCMessage } from '../shared/jsonrpc.js';
import type { Principal } from '../shared/principal.js';
import { filterListAnswer } from './list-filter.js';
import type { McpTarget, TargetKind } from './targets.js';

/** One scope of the `authorization` section: what it opens, and where. */
export interface ScopeSpec {
  description?: string;
  /** The upstreams the scope applies to; absent means all of them. An empty list applies to none. */
  upstreams?: readonly string[];
  tools: readonly string[];
  resources: readonly string[];
  prompts: readonly string[];
}

export interface ScopePolicySpec {
  scopes: Readonly<Record<string, ScopeSpec>>;
  /** role -> the scopes it grants. */
  roles: Readonly<Record<string, readonly string[]>>;
}

export interface ScopeDecision {
  allowed: boolean;
  /** For the audit record, e.g. "scope notes:read", or "no scope of the caller opens tool 'delete_note'". Bounded length. */
  reason: string;
  /** When denied: the scopes that WOULD open the target on this upstream (sorted), for the 403's `scope="..."`; empty when none would. */
  needed: string[];
}

/** What one principal may use on one upstream. */
export interface Grant {
  /** The caller's effective scopes that apply to this upstream, sorted. */
  readonly scopes: readonly string[];
  permits(target: McpTarget): boolean;
  /** Whether any scope of the grant opens anything of `kind` on the upstream (what discovery may advertise). */
  opensKind(kind: TargetKind): boolean;
  /** A JSON-RPC answer to a list `method`, with items the principal may not use removed; error answers and non-list methods pass unchanged. */
  filterListAnswer(method: string, answer: JSONRPCMessage): JSONRPCMessage;
}

type Caller = Pick<Principal, 'scopes' | 'roles' | 'scopesCutToRoles'>;

/** The roles whose scopes the caller holds: none when its token's scopes were already cut to them. */
const grantingRoles = (principal: Caller): readonly string[] => (principal.scopesCutToRoles ? [] : principal.roles);

interface CompiledScope {
  name: string;
  description: string | undefined;
  /** undefined: every upstream. */
  upstreams: ReadonlySet<string> | undefined;
  /** A Map rather than an object keyed by kind, so a kind that is not one (at runtime) finds nothing instead of Object.prototype. */
  globs: ReadonlyMap<TargetKind, GlobSet>;
}

function appliesTo(scope: CompiledScope, upstream: string): boolean {
  return scope.upstreams === undefined || scope.upstreams.has(upstream);
}

function opens(scope: CompiledScope, upstream: string, target: McpTarget): boolean {
  return appliesTo(scope, upstream) && scope.globs.get(target.kind)?.matches(target.name) === true;
}

/** Grants are cached by (upstream, effective scopes); this bounds the cache when callers carry many scope combinations. */
const MAX_CACHED_GRANTS = 1024;
/** The caller's text in a reason is cut to this many characters, so a huge name cannot bloat every audit record. */
const MAX_NAME_IN_REASON = 100;

/**
 * Authorization by scope (default deny): an authenticated caller may use a tool, resource or prompt on an
 * upstream only when one of its effective scopes opens it there. Effective scopes are the principal's own
 * scopes plus those of its roles, limited to the scopes the config defines, so a token carrying a scope
 * name nobody configured gains nothing from it. Requests with no target (initialize, ping, the lists,
 * notifications) are allowed: the lists themselves are filtered through `grantFor`.
 */
export class ScopePolicy {
  /** Keyed by a Map, not the spec's record, so names such as `__proto__` or `constructor` are just names. */
  private readonly scopes = new Map<string, CompiledScope>();
  /** Sorted, so `needed` and `scopesFor` come out sorted without sorting per request. */
  private readonly sorted: CompiledScope[];
  /** role -> its defined scopes, unique; undefined scopes are dropped once here rather than on every request. */
  private readonly roles = new Map<string, CompiledScope[]>();
  private readonly grants = new Map<string, ScopeGrant>();

  constructor(spec: ScopePolicySpec) {
    for (const [name, scope] of Object.entries(spec.scopes)) {
      this.scopes.set(name, {
        name,
        description: scope.description,
        upstreams: scope.upstreams === undefined ? undefined : new Set(scope.upstreams),
        globs: new Map<TargetKind, GlobSet>([
          ['tool', new GlobSet(scope.tools)],
          ['resource', new GlobSet(scope.resources)],
          ['prompt', new GlobSet(scope.prompts)],
        ]),
      });
    }
    this.sorted = [...this.scopes.values()].sort((a, b) => compare(a.name, b.name));
    for (const [role, names] of Object.entries(spec.roles)) {
      const compiled = [...new Set(names)].flatMap((n) => this.scopes.get(n) ?? []);
      this.roles.set(role, compiled);
    }
  }

  /** The scopes the principal holds, directly or through roles, that the config defines: sorted, unique. */
  effectiveScopes(principal: Caller): string[] {
    const names = new Set<string>();
    for (const name of principal.scopes) if (this.scopes.has(name)) names.add(name);
    for (const role of grantingRoles(principal)) for (const scope of this.roles.get(role) ?? []) names.add(scope.name);
    return [...names].sort(compare);
  }

  /**
   * Whether the principal may act on `target` on `upstream`. This runs on every request, so the allowing path
   * walks the caller's scopes in place without building the effective set; the reason names the first scope
   * that opens the target (own scopes first, then those of the roles, in the order the principal lists them).
   */
  decide(principal: Caller, upstream: string, target: McpTarget | undefined): ScopeDecision {
    if (!target) return { allowed: true, reason: 'no target', needed: [] };
    for (const name of principal.scopes) {
      const scope = this.scopes.get(name);
      if (scope && opens(scope, upstream, target)) return { allowed: true, reason: `scope ${scope.name}`, needed: [] };
    }
    for (const role of grantingRoles(principal)) {
      for (const scope of this.roles.get(role) ?? []) {
        if (opens(scope, upstream, target)) return { allowed: true, reason: `scope ${scope.name}`, needed: [] };
      }
    }
    // Denied, so the caller holds none of these: they are what it would have to ask for.
    const needed: string[] = [];
    for (const scope of this.sorted) if (opens(scope, upstream, target)) needed.push(scope.name);
    return { allowed: false, reason: `no scope of the caller opens ${target.kind} '${reasonText(target.name)}'`, needed };
  }

  /** What one principal may use on one upstream; used to filter list answers. Cached by effective-scope set + upstream. */
  grantFor(principal: Caller, upstream: string): Grant {
    const effective = this.effectiveScopes(principal);
    // JSON keeps the key unambiguous whatever characters the names hold (a spec need not have passed the schema).
    const key = JSON.stringify([upstream, ...effective]);
    let grant = this.grants.get(key);
    if (grant) {
      // Re-inserted so that the Map's order is least recently used first, which is what gets evicted.
      this.grants.delete(key);
    } else {
      const applicable = effective.map((n) => this.scopes.get(n)!).filter((s) => appliesTo(s, upstream));
      grant = new ScopeGrant(upstream, applicable);
      if (this.grants.size >= MAX_CACHED_GRANTS) this.grants.delete(this.grants.keys().next().value!);
    }
    this.grants.set(key, grant);
    return grant;
  }

  /** Scopes that apply to this upstream, sorted: for RFC 9728 `scopes_supported`. */
  scopesFor(upstream: string): string[] {
    return this.sorted.filter((s) => appliesTo(s, upstream)).map((s) => s.name);
  }

  description(scope: string): string | undefined {
    return this.scopes.get(scope)?.description;
  }
}

class ScopeGrant implements Grant {
  readonly scopes: readonly string[];
  /** `permits` bound once, for the shared list walk. */
  private readonly permitsTarget = (target: McpTarget): boolean => this.permits(target);

  constructor(
    private readonly upstream: string,
    private readonly applicable: readonly CompiledScope[],
  ) {
    this.scopes = Object.freeze(applicable.map((s) => s.name));
  }

  permits(target: McpTarget): boolean {
    return this.applicable.some((s) => opens(s, this.upstream, target));
  }

  opensKind(kind: TargetKind): boolean {
    return this.applicable.some((s) => (s.globs.get(kind)?.sources.length ?? 0) > 0);
  }

  filterListAnswer(method: string, answer: JSONRPCMessage): JSONRPCMessage {
    return filterListAnswer(method, answer, this.permitsTarget);
  }
}

/** Code-unit order, the same on every machine (localeCompare is not). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The caller's name as a reason may quote it: bounded, and with control characters and line separators shown as `?` so one record stays one line. */
function reasonText(name: string): string {
  let end = Math.min(name.length, MAX_NAME_IN_REASON);
  // Not between the halves of a surrogate pair, which would leave a lone surrogate in the record.
  if (end < name.length && /[\uD800-\uDBFF]/.test(name.charAt(end - 1))) end -= 1;
  const text = name.slice(0, end).replace(/[\u0000-\u001F\u007F-\u009F\u2028\u2029]/g, '?');
  return end < name.length ? `${text}…` : text;
}
