import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import type { CedarEngine } from './engine.js';
import { PolicyError } from './errors.js';
import type { PolicySources } from './policy-set.js';
import { POLICY_ACTIONS, type PolicyAction, type PolicyRequest } from './request.js';

/**
 * `warden policy test <file.yaml>`: cases of (principal, action, resource, context) with the decision each must
 * get, so a policy change is reviewed like code and checked in CI. The file may name the set it tests
 * (`policies`, `schema`, `entities`, relative to the file); otherwise the config's set is used.
 */

const names = z.array(z.string()).default([]);
const caseSchema = z.object({
  name: z.string().min(1),
  principal: z.object({
    type: z.enum(['User', 'Service', 'Machine']).default('User'),
    subject: z.string().min(1),
    tenant: z.string().optional(),
    roles: names,
    scopes: names,
    credentialKind: z.string().default('api_key'),
    clientId: z.string().optional(),
    issuer: z.string().optional(),
    /** A client certificate the request presented: `subject` is its RFC 4514 DN, as the gateway gives it. */
    certificate: z.object({ subject: z.string().min(1), thumbprint: z.string().min(1).default('test-thumbprint') }).strict().optional(),
  }).strict(),
  action: z.enum(POLICY_ACTIONS as [PolicyAction, ...PolicyAction[]]),
  resource: z.object({
    upstream: z.string().min(1),
    tool: z.string().optional(),
    resource: z.string().optional(),
    prompt: z.string().optional(),
  }).strict().refine((r) => [r.tool, r.resource, r.prompt].filter((x) => x !== undefined).length <= 1, { message: 'name at most one of tool, resource, prompt' }),
  context: z.object({
    arguments: z.record(z.string(), z.unknown()).optional(),
    time: z.object({
      hour: z.number().int().min(0).max(23).default(10), minute: z.number().int().min(0).max(59).default(0),
      weekday: z.number().int().min(0).max(6).default(3), date: z.string().default('2026-01-07'),
    }).strict().default({ hour: 10, minute: 0, weekday: 3, date: '2026-01-07' }),
    ip: z.string().optional(),
    actor: z.object({ subject: z.string(), roles: names, clientId: z.string().optional(), credentialKind: z.string().default('oauth') }).strict().optional(),
    transport: z.enum(['http', 'stdio']).default('http'),
    listing: z.boolean().default(false),
  }).strict().default({ time: { hour: 10, minute: 0, weekday: 3, date: '2026-01-07' }, transport: 'http', listing: false }),
  expect: z.enum(['allow', 'deny']),
  /** When given, the determining policy ids must be exactly these (any order). */
  policies: z.array(z.string()).optional(),
}).strict();

const fileSchema = z.object({
  policies: z.string().optional(),
  schema: z.string().optional(),
  entities: z.string().optional(),
  cases: z.array(caseSchema).min(1),
}).strict();

export type PolicyTestCase = z.output<typeof caseSchema>;

export interface PolicyTestFile {
  /** The set the file names, paths resolved; undefined when it names none. */
  sources: PolicySources | undefined;
  cases: PolicyTestCase[];
}

export interface PolicyTestResult {
  name: string;
  expected: 'allow' | 'deny';
  got: 'allow' | 'deny';
  determining: string[];
  errors: string[];
  passed: boolean;
  /** Why it failed, when it did. */
  problem?: string;
}

export function readPolicyTests(file: string): PolicyTestFile {
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new PolicyError('unreadable', [`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`]);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new PolicyError('parse', parsed.error.issues.map((i) => `${file}: ${i.path.join('.') || '(top)'}: ${i.message}`));
  }
  const at = (p: string) => (isAbsolute(p) ? p : resolve(dirname(file), p));
  const { policies, schema, entities, cases } = parsed.data;
  const sources = policies
    ? { policies: at(policies), ...(schema ? { schema: at(schema) } : {}), ...(entities ? { entities: at(entities) } : {}) }
    : undefined;
  return { sources, cases };
}

export function caseRequest(c: PolicyTestCase): PolicyRequest {
  const { tool, resource, prompt, upstream } = c.resource;
  const target = tool !== undefined ? { kind: 'tool' as const, name: tool }
    : resource !== undefined ? { kind: 'resource' as const, name: resource }
      : prompt !== undefined ? { kind: 'prompt' as const, name: prompt } : undefined;
  const { type, subject, ...rest } = c.principal;
  const { actor, ...context } = c.context;
  return {
    principal: { type, subject, ...rest },
    action: c.action,
    resource: { upstream, ...(target ? { target } : {}) },
    context: { ...context, ...(actor ? { actor, actors: [actor.subject] } : { actors: [] }) },
  };
}

export function runPolicyTests(engine: CedarEngine, cases: readonly PolicyTestCase[]): PolicyTestResult[] {
  return cases.map((c) => {
    const verdict = engine.decide(caseRequest(c));
    const got = verdict.allowed ? 'allow' : 'deny';
    const determining = verdict.determining.map((p) => p.id);
    let problem: string | undefined;
    if (got !== c.expect) problem = `expected ${c.expect}, got ${got}`;
    else if (c.policies && [...c.policies].sort().join(',') !== [...determining].sort().join(',')) {
      problem = `expected policies [${c.policies.join(', ')}], got [${determining.join(', ')}]`;
    }
    return { name: c.name, expected: c.expect, got, determining, errors: verdict.errors, passed: problem === undefined, ...(problem ? { problem } : {}) };
  });
}
