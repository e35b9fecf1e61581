import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkParseEntities, policySetTextToParts, policyToJson, validate, type DetailedError, type EntityJson } from './wasm.js';
import { PolicyError } from './errors.js';

/** Where a policy set comes from: `authorization.cedar` with its paths resolved. */
export interface PolicySources {
  /** A `.cedar` file, or a folder whose `*.cedar` files are read in name order. */
  policies: string;
  /** A Cedar schema (human syntax); default: the MCP schema shipped with warden. */
  schema?: string;
  /** Entities every decision sees (groups, upstream tenants), in Cedar's JSON entity format. */
  entities?: string;
}

/** One policy as warden knows it: what a 403 and an audit record may say about it (never its text). */
export interface PolicyInfo {
  id: string;
  effect: 'permit' | 'forbid';
  /** `@reason("…")`: the sentence a refused caller is shown. */
  reason?: string;
  /** Where it is written, `file:line`, for operators. */
  source: string;
}

/** A parsed and validated policy set: immutable, swapped whole on reload. */
export interface LoadedPolicySet {
  /** Policy id -> its text, as Cedar takes it. */
  texts: Record<string, string>;
  policies: ReadonlyMap<string, PolicyInfo>;
  entities: EntityJson[];
  schemaText: string;
  /** The files read, for the reloader to watch. */
  files: string[];
  /** What the policies read of the context and of the principal's attributes: decisions pass (and cache by) only that. */
  reads: PolicyReads;
}

/**
 * What the policies read: of the context, each field (whole, or only some of its own fields); of the principal,
 * its attributes. `all` when a policy uses the whole record.
 */
export interface PolicyReads {
  context: ReadonlyMap<string, ReadonlySet<string> | 'whole'> | 'all';
  principal: ReadonlySet<string> | 'all';
}

/** The MCP schema shipped with warden (`cedar/mcp.cedarschema` at the package root). */
export const BUILTIN_SCHEMA = fileURLToPath(new URL('../../../cedar/mcp.cedarschema', import.meta.url));

/**
 * Reads, parses and validates (Cedar's strict mode, against the schema) a policy set. Each policy is named by
 * its `@id("…")` annotation, or `<file>#<n>` without one; ids are unique across the set. Throws `PolicyError`
 * listing every problem found.
 */
export function loadPolicySet(sources: PolicySources): LoadedPolicySet {
  const files = policyFiles(sources.policies);
  const schemaFile = sources.schema ?? BUILTIN_SCHEMA;
  const schemaText = read(schemaFile);
  const texts: Record<string, string> = {};
  const policies = new Map<string, PolicyInfo>();
  const problems: string[] = [];
  const reads: MutableReads = { context: new Map(), principal: new Set() };
  for (const file of files) {
    const text = read(file);
    const parts = policySetTextToParts(text);
    if (parts.type === 'failure') {
      problems.push(...parts.errors.map((e) => `${file}: ${describe(e, text)}`));
      continue;
    }
    if (parts.policy_templates.length > 0) problems.push(`${file}: policy templates are not supported; write static policies`);
    let from = 0;
    parts.policies.forEach((policy, n) => {
      const at = text.indexOf(policy, from);
      if (at >= 0) from = at + policy.length;
      const json = policyToJson(policy);
      if (json.type === 'failure') {
        problems.push(`${file}: ${json.errors.map((e) => e.message).join('; ')}`);
        return;
      }
      const annotations = json.json.annotations ?? {};
      const id = annotations.id ?? `${basename(file)}#${n + 1}`;
      const source = `${file}:${at >= 0 ? lineOf(text, at) : '?'}`;
      const seen = policies.get(id);
      if (seen) {
        problems.push(`${source}: policy id '${id}' is already used at ${seen.source}; ids must be unique across the set`);
        return;
      }
      texts[id] = policy;
      for (const clause of json.json.conditions) collectReads(clause.body, reads);
      policies.set(id, { id, effect: json.json.effect, ...(annotations.reason ? { reason: annotations.reason } : {}), source });
    });
  }
  if (problems.length > 0) throw new PolicyError('parse', problems);

  const validation = validate({ schema: schemaText, policies: { staticPolicies: texts }, validationSettings: { mode: 'strict' } });
  if (validation.type === 'failure') throw new PolicyError('schema', validation.errors.map((e) => `${schemaFile}: ${describe(e, schemaText)}`));
  if (validation.validationErrors.length > 0) {
    throw new PolicyError('validation', validation.validationErrors.map((v) => {
      const info = policies.get(v.policyId);
      return `${info?.source ?? v.policyId}: policy '${v.policyId}': ${v.error.message}${v.error.help ? ` (${v.error.help})` : ''}`;
    }));
  }

  const entities = sources.entities ? readEntities(sources.entities, schemaText) : [];
  return { texts, policies, entities, schemaText, files: [...files, schemaFile, ...(sources.entities ? [sources.entities] : [])], reads };
}

/**
 * Walks a condition's JSON form for what it reads. Of the context, to two levels: `context.time.hour` reads hour of
 * time, `context has actor` only that actor is there, `context.actor` used whole (compared, passed on) all of it,
 * and `context` used whole everything. Of the principal, its attributes (`principal in …` reads none).
 */
function collectReads(expr: unknown, reads: MutableReads): void {
  if (expr === null || typeof expr !== 'object') return;
  if (Array.isArray(expr)) {
    for (const e of expr) collectReads(e, reads);
    return;
  }
  const node = expr as Record<string, unknown>;
  for (const op of ['.', 'has'] as const) {
    const access = node[op] as { left?: Record<string, unknown>; attr?: string | string[] } | undefined;
    if (!access?.left) continue;
    const attrs = Array.isArray(access.attr) ? access.attr : access.attr === undefined ? [] : [access.attr];
    const v = (access.left as { Var?: string }).Var;
    if (v === 'principal') {
      if (reads.principal !== 'all' && attrs[0] !== undefined) reads.principal.add(attrs[0]);
      return;
    }
    const inner = access.left['.'] as { left?: { Var?: string }; attr?: string } | undefined;
    if (v === 'context' && attrs[0] !== undefined) {
      // `context has a.b` reads b of a; `context.a` (or `context has a`) a, whole unless a further access narrows it.
      if (op === 'has') fieldOf(reads, attrs[0], attrs[1]);
      else wholeField(reads, attrs[0]);
      return;
    }
    if (inner?.left?.Var === 'context' && typeof inner.attr === 'string' && attrs[0] !== undefined) {
      fieldOf(reads, inner.attr, attrs[0]);
      return;
    }
  }
  if (node.Var === 'context') reads.context = 'all';
  for (const [key, value] of Object.entries(node)) if (key !== 'Var') collectReads(value, reads);
}

type MutableReads = { context: Map<string, Set<string> | 'whole'> | 'all'; principal: Set<string> | 'all' };

function fieldOf(reads: MutableReads, field: string, sub: string | undefined): void {
  if (reads.context === 'all') return;
  const known = reads.context.get(field);
  if (known === 'whole') return;
  const subs = known ?? new Set<string>();
  if (sub !== undefined) subs.add(sub);
  reads.context.set(field, subs);
}

function wholeField(reads: MutableReads, field: string): void {
  if (reads.context !== 'all') reads.context.set(field, 'whole');
}

function policyFiles(path: string): string[] {
  let stat;
  try {
    stat = statSync(path);
  } catch (err) {
    throw new PolicyError('unreadable', [`${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : (err as Error).message}`]);
  }
  if (!stat.isDirectory()) return [path];
  const files = readdirSync(path).filter((f) => f.endsWith('.cedar')).sort().map((f) => join(path, f));
  if (files.length === 0) throw new PolicyError('unreadable', [`${path}: the folder holds no *.cedar file`]);
  return files;
}

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new PolicyError('unreadable', [`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`]);
  }
}

function readEntities(file: string, schema: string): EntityJson[] {
  let entities: unknown;
  try {
    entities = JSON.parse(read(file));
  } catch (err) {
    if (err instanceof PolicyError) throw err;
    throw new PolicyError('entities', [`${file}: not JSON (${(err as Error).message})`]);
  }
  if (!Array.isArray(entities)) throw new PolicyError('entities', [`${file}: expected a JSON array of entities ({ uid, attrs, parents })`]);
  const completed = (entities as EntityJson[]).map(withGatewayAttributes);
  const checked = checkParseEntities({ entities: completed, schema });
  if (checked.type === 'failure') throw new PolicyError('entities', checked.errors.map((e) => `${file}: ${e.message}`));
  return completed;
}

/**
 * Tools, resources, prompts and upstreams named in entities.json get the attributes the gateway gives them
 * (name, upstream), so a file only says what it adds (groups, an upstream's tenant) and still meets the schema.
 */
function withGatewayAttributes(entity: EntityJson): EntityJson {
  const uid = (entity?.uid && '__entity' in entity.uid ? entity.uid.__entity : entity?.uid) as { type?: unknown; id?: unknown } | undefined;
  if (!uid || typeof uid.type !== 'string' || typeof uid.id !== 'string') return entity;
  const attrs = { ...(entity.attrs ?? {}) };
  if (uid.type === 'Upstream') {
    attrs.name = uid.id;
  } else if (uid.type === 'Tool' || uid.type === 'Resource' || uid.type === 'Prompt') {
    const slash = uid.id.indexOf('/');
    if (slash <= 0) throw new PolicyError('entities', [`${uid.type}::"${uid.id}": ids are "<upstream>/<name>"`]);
    attrs.name = uid.id.slice(slash + 1);
    attrs.upstream = { __entity: { type: 'Upstream', id: uid.id.slice(0, slash) } };
  } else {
    return entity;
  }
  const upstream = uid.type === 'Upstream' ? undefined : { type: 'Upstream', id: uid.id.slice(0, uid.id.indexOf('/')) };
  const parents = [...(entity.parents ?? [])];
  if (upstream && !parents.some((p) => ('__entity' in p ? p.__entity : p).type === 'Upstream')) parents.push(upstream);
  return { ...entity, uid: { type: uid.type, id: uid.id }, attrs, parents };
}

function describe(error: DetailedError, text: string): string {
  const at = error.sourceLocations?.[0];
  return `${at ? `line ${lineOf(text, at.start)}: ` : ''}${error.message}${error.help ? ` (${error.help})` : ''}`;
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
