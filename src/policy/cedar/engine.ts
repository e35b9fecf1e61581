import { preparsePolicySet, statefulIsAuthorized, type EntityJson } from '@cedar-policy/cedar-wasm/nodejs';
import { LruCache } from './cache.js';
import { toCedar } from './cedar-json.js';
import type { PolicyDecisionPoint, PolicyRef, PolicyVerdict } from './decision.js';
import { PolicyError } from './errors.js';
import type { LoadedPolicySet, PolicyInfo } from './policy-set.js';
import type { PolicyRequest } from './request.js';

export interface CedarEngineOptions {
  /** Decisions kept (LRU); 0 turns the cache off. */
  cacheSize?: number;
}

/** Longer keys (large tool arguments) are decided without the cache rather than held in it. */
const MAX_KEY_LENGTH = 4096;
let engines = 0;

/**
 * Decides policy requests with Cedar (`@cedar-policy/cedar-wasm`). The set is parsed once, when it is loaded
 * or replaced, and kept in the WebAssembly module under this engine's id; each decision passes only the
 * request and its entities. Decisions are cached by (set version, request): a replaced set starts a new version,
 * so no answer of the old set is ever served for the new one.
 *
 * Fail closed: a request Cedar cannot evaluate is denied, and so is one where a `forbid` policy errored (a
 * caller sending `amount: "1000"` where a number is expected must not slip past `amount > 100`).
 */
export class CedarEngine implements PolicyDecisionPoint {
  private readonly id = `warden-${++engines}`;
  private set!: LoadedPolicySet;
  private statics = new Map<string, EntityJson>();
  private readonly cache: LruCache<PolicyVerdict>;
  /** Bumped on every replace; part of every cache key. */
  version = 0;
  loadedAt = new Date(0);

  constructor(set: LoadedPolicySet, options: CedarEngineOptions = {}) {
    this.cache = new LruCache(options.cacheSize ?? 10_000);
    this.replace(set);
  }

  /** Swaps in a loaded (parsed and validated) set. On failure the current set stays in force. */
  replace(set: LoadedPolicySet): void {
    const parsed = preparsePolicySet(this.id, { staticPolicies: set.texts });
    if (parsed.type === 'failure') throw new PolicyError('parse', parsed.errors.map((e) => e.message));
    this.set = set;
    this.statics = new Map(set.entities.map((e) => [uidKey(e.uid), e]));
    this.version++;
    this.loadedAt = new Date();
    this.cache.clear();
  }

  get policies(): ReadonlyMap<string, PolicyInfo> {
    return this.set.policies;
  }

  get files(): readonly string[] {
    return this.set.files;
  }

  decide(request: PolicyRequest): PolicyVerdict {
    const key = `${this.version}\u0000${JSON.stringify(request)}`;
    if (key.length > MAX_KEY_LENGTH) return this.evaluate(request);
    let verdict = this.cache.get(key);
    if (!verdict) {
      verdict = this.evaluate(request);
      this.cache.set(key, verdict);
    }
    return verdict;
  }

  /**
   * Whether a list may show an item. The request carries no arguments (`listing: true`), so a policy that reads
   * them cannot be evaluated: the item is shown when it is allowed or when some policy could not be evaluated
   * without arguments — the call itself is decided again with them.
   */
  permitsItem(request: PolicyRequest): boolean {
    const verdict = this.decide(request);
    return verdict.allowed || verdict.errors.length > 0;
  }

  status(): Record<string, unknown> {
    return {
      version: this.version, loadedAt: this.loadedAt.toISOString(), policies: this.set.policies.size,
      cache: { size: this.cache.size, hits: this.cache.hits, misses: this.cache.misses },
    };
  }

  private evaluate(request: PolicyRequest): PolicyVerdict {
    const cedar = toCedar(request);
    const answer = statefulIsAuthorized({
      principal: cedar.principal, action: cedar.action, resource: cedar.resource, context: cedar.context,
      preparsedPolicySetId: this.id, entities: this.entities(cedar.entities),
    });
    if (answer.type === 'failure') {
      return { allowed: false, determining: [], errors: answer.errors.map((e) => e.message.slice(0, 200)), by: 'cedar', failure: 'the request could not be evaluated' };
    }
    const { decision, diagnostics } = answer.response;
    const errors = diagnostics.errors.map((e) => e.policyId);
    const failedForbids = errors.filter((id) => this.set.policies.get(id)?.effect === 'forbid');
    if (failedForbids.length > 0) return { allowed: false, determining: failedForbids.map((id) => this.ref(id)), errors, by: 'cedar' };
    return { allowed: decision === 'allow', determining: diagnostics.reason.map((id) => this.ref(id)), errors, by: 'cedar' };
  }

  /** The request's entities, each replaced by the entities.json one of the same uid (which adds groups, a tenant); the principal always comes from the credential. */
  private entities(own: EntityJson[]): EntityJson[] {
    if (this.statics.size === 0) return own;
    const replaced = new Set<string>();
    const merged = own.map((e, i) => {
      const key = uidKey(e.uid);
      const known = i > 0 ? this.statics.get(key) : undefined;
      if (i === 0 && this.statics.has(key)) replaced.add(key);
      if (!known) return e;
      replaced.add(key);
      return known;
    });
    for (const [key, e] of this.statics) if (!replaced.has(key)) merged.push(e);
    return merged;
  }

  private ref(id: string): PolicyRef {
    const reason = this.set.policies.get(id)?.reason;
    return reason ? { id, reason } : { id };
  }
}

function uidKey(uid: EntityJson['uid']): string {
  const u = '__entity' in uid ? uid.__entity : uid;
  return `${u.type}\u0000${u.id}`;
}
