import { preparsePolicySet, schemaToJson, statefulIsAuthorized, type EntityJson } from './wasm.js';
import { LruCache } from './cache.js';
import { toCedar } from './cedar-json.js';
import type { PolicyDecisionPoint, PolicyRef, PolicyVerdict } from './decision.js';
import { PolicyError } from './errors.js';
import type { LoadedPolicySet, PolicyInfo, PolicyReads } from './policy-set.js';
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
  /** The set's name inside the WebAssembly module; each engine has its own (a reload replaces it in place). */
  private readonly id = `warden-${++engines}`;
  private set!: LoadedPolicySet;
  private statics = new Map<string, EntityJson>();
  /** uid -> the entities.json entities it reaches (parents and attribute references, transitively). */
  private reach = new Map<string, EntityJson[]>();
  /** action id -> the action's entity and its groups', from the schema. */
  private actions = new Map<string, EntityJson[]>();
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
    const actions = actionEntities(set.schemaText);
    // Nothing changes before this point: preparse has no effect on error, so the set in force stays.
    const parsed = preparsePolicySet(this.id, { staticPolicies: set.texts });
    if (parsed.type === 'failure') throw new PolicyError('parse', parsed.errors.map((e) => e.message));
    this.set = set;
    this.statics = new Map(set.entities.map((e) => [uidKey(e.uid), e]));
    this.reach = reachable(this.statics);
    this.actions = actions;
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
    // Only what some policy reads is passed and keyed: parsing costs Cedar per attribute, and a field no policy
    // reads (the client's IP, the minute) would otherwise make every key unique.
    const slim = slimmed(request, this.set.reads);
    const key = `${this.version}\u0000${JSON.stringify(slim)}`;
    if (key.length > MAX_KEY_LENGTH) return this.evaluate(slim);
    let verdict = this.cache.get(key);
    if (!verdict) {
      verdict = this.evaluate(slim);
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
    // A request Cedar could not evaluate at all hides the item (fail closed); a policy that needs the arguments does not.
    return verdict.allowed || (verdict.failure === undefined && verdict.errors.length > 0);
  }

  status(): Record<string, unknown> {
    return {
      version: this.version, loadedAt: this.loadedAt.toISOString(), policies: this.set.policies.size,
      cache: { size: this.cache.size, hits: this.cache.hits, misses: this.cache.misses },
    };
  }

  private evaluate(request: PolicyRequest): PolicyVerdict {
    const cedar = toCedar(request);
    const entities = this.entities(cedar.entities);
    for (const action of this.actions.get(request.action) ?? []) entities.push(action);
    const answer = statefulIsAuthorized({
      principal: cedar.principal, action: cedar.action, resource: cedar.resource, context: cedar.context,
      preparsedPolicySetId: this.id, entities,
    });
    if (answer.type === 'failure') {
      const messages: string[] = [];
      for (const e of answer.errors) messages.push(e.message.slice(0, 200));
      return { allowed: false, determining: [], errors: messages, by: 'cedar', failure: 'the request could not be evaluated' };
    }
    const { decision, diagnostics } = answer.response;
    const errors: string[] = [];
    const failedForbids: PolicyRef[] = [];
    for (const e of diagnostics.errors) {
      errors.push(e.policyId);
      if (this.set.policies.get(e.policyId)?.effect === 'forbid') failedForbids.push(this.ref(e.policyId));
    }
    if (failedForbids.length > 0) return { allowed: false, determining: failedForbids, errors, by: 'cedar' };
    const determining: PolicyRef[] = [];
    for (const id of diagnostics.reason) determining.push(this.ref(id));
    return { allowed: decision === 'allow', determining, errors, by: 'cedar' };
  }

  /**
   * The request's own entities, each replaced by the entities.json one of the same uid (which adds groups, a
   * tenant), plus what those reach in entities.json (ancestors, entities named in attributes). Only those: every
   * entity passed costs Cedar a parse (measured ~30 µs each), so passing the whole file would dominate a decision.
   * The principal always comes from the credential, never from the file.
   */
  private entities(own: EntityJson[]): EntityJson[] {
    if (this.statics.size === 0) return own;
    const out = new Map<string, EntityJson>();
    for (let i = 0; i < own.length; i++) {
      const e = own[i]!;
      const key = uidKey(e.uid);
      out.set(key, (i > 0 && this.statics.get(key)) || e);
    }
    for (const key of [...out.keys()]) {
      for (const reached of this.reach.get(key) ?? []) {
        const k = uidKey(reached.uid);
        if (!out.has(k)) out.set(k, reached);
      }
    }
    return [...out.values()];
  }

  private ref(id: string): PolicyRef {
    const reason = this.set.policies.get(id)?.reason;
    return reason ? { id, reason } : { id };
  }
}

/**
 * The request with only what the policies read: the context's fields (narrowed to the sub-fields read, when the
 * value is a record) and the principal's attributes (its type, subject and tenant always: they make its uid and
 * parents). No schema is applied at decision time, so nothing else is required.
 */
function slimmed(request: PolicyRequest, reads: PolicyReads): PolicyRequest {
  const { principal, context } = request;
  let p: Record<string, unknown> = principal as unknown as Record<string, unknown>;
  if (reads.principal !== 'all') {
    p = {};
    for (const [k, v] of Object.entries(principal)) if (k === 'type' || k === 'subject' || k === 'tenant' || reads.principal.has(k)) p[k] = v;
  }
  let c: Record<string, unknown> = context as unknown as Record<string, unknown>;
  if (reads.context !== 'all') {
    c = {};
    for (const [k, v] of Object.entries(context)) {
      const read = reads.context.get(k);
      if (read === undefined) continue;
      if (read === 'whole' || v === null || typeof v !== 'object' || Array.isArray(v)) c[k] = v;
      else c[k] = Object.fromEntries(Object.entries(v).filter(([sub]) => read.has(sub)));
    }
  }
  return { ...request, principal: p as unknown as PolicyRequest['principal'], context: c as unknown as PolicyRequest['context'] };
}

/**
 * The schema's actions as entities with their groups (`action call_tool in [uses]`). Decisions pass these rather
 * than the schema: with a schema Cedar also parses the context against it (closed records, so any argument the
 * schema does not name fails the request) and a decision took three times as long (measured: ~490 vs ~150 µs).
 * Policies are validated against the schema when loaded, so they read only what it declares.
 */
function actionEntities(schemaText: string): Map<string, EntityJson[]> {
  const json = schemaToJson(schemaText);
  if (json.type === 'failure') throw new PolicyError('schema', json.errors.map((e) => e.message));
  const parents = new Map<string, string[]>();
  for (const namespace of Object.values(json.json)) {
    for (const [id, action] of Object.entries(namespace.actions)) parents.set(id, (action.memberOf ?? []).map((m) => m.id));
  }
  const entity = (id: string): EntityJson => ({ uid: { type: 'Action', id }, attrs: {}, parents: (parents.get(id) ?? []).map((p) => ({ type: 'Action', id: p })) });
  const result = new Map<string, EntityJson[]>();
  for (const id of parents.keys()) {
    const seen = new Set<string>();
    const queue = [id];
    while (queue.length > 0) {
      const next = queue.pop()!;
      if (seen.has(next)) continue;
      seen.add(next);
      queue.push(...(parents.get(next) ?? []));
    }
    result.set(id, [...seen].map(entity));
  }
  return result;
}

/** For each entity of the file, the others it reaches through parents and entity-valued attributes. */
function reachable(statics: ReadonlyMap<string, EntityJson>): Map<string, EntityJson[]> {
  const direct = (e: EntityJson): string[] => [...(e.parents ?? []).map(uidKey), ...referencedIn(e.attrs)];
  const result = new Map<string, EntityJson[]>();
  for (const [key, entity] of statics) {
    const seen = new Set<string>([key]);
    const queue = direct(entity);
    const found: EntityJson[] = [];
    while (queue.length > 0) {
      const next = queue.pop()!;
      if (seen.has(next)) continue;
      seen.add(next);
      const e = statics.get(next);
      if (!e) continue;
      found.push(e);
      queue.push(...direct(e));
    }
    result.set(key, found);
  }
  return result;
}

function referencedIn(value: unknown): string[] {
  if (value === null || typeof value !== 'object') return [];
  if (Array.isArray(value)) return value.flatMap(referencedIn);
  const record = value as Record<string, unknown>;
  if (record.__entity && typeof record.__entity === 'object') return [uidKey(record as EntityJson['uid'])];
  return Object.values(record).flatMap(referencedIn);
}

function uidKey(uid: EntityJson['uid']): string {
  const u = '__entity' in uid ? uid.__entity : uid;
  return `${u.type}\u0000${u.id}`;
}
