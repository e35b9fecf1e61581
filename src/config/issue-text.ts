import type { z } from 'zod';

/**
 * What a schema issue says to a person: the expected type or shape, and for a misspelled key the closest
 * known one. zod's own text ("Invalid input") names neither.
 */

type Issue = z.core.$ZodIssue;
type Path = (string | number)[];
// The parts of zod's internal definition this module walks; typed loosely on purpose (zod's are internal).
type Def = { type: string; innerType?: Schema; in?: Schema; out?: Schema; options?: Schema[]; valueType?: Schema; element?: Schema; shape?: Record<string, Schema> };
type Schema = { def: Def } | z.ZodType;

export interface IssueText {
  path: Path;
  message: string;
}

/** One or more texts for `issue`: a union is explained by the branch the value came closest to. */
export function explainIssue(issue: Issue, root: Schema): IssueText[] {
  const path = issue.path as Path;
  // A message the schema wrote itself already says what to do; zod's own start with "Invalid".
  if (issue.code !== 'unrecognized_keys' && !/^Invalid/.test(issue.message)) return [{ path, message: issue.message }];
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ path: [...path, key], message: unknownKeyText(key, knownKeysAt(root, path)) }));
    case 'invalid_union': {
      // A branch whose every issue lies below the value itself matched its type: its issues are the real ones.
      const deeper = issue.errors.find((branch) => branch.length > 0 && branch.every((i) => i.path.length > 0));
      if (deeper) return deeper.flatMap((i) => explainIssue({ ...i, path: [...path, ...i.path] } as Issue, root));
      const expected = [...new Set(issue.errors.flatMap((branch) => branch.filter((i) => i.path.length === 0).map(expectation)))];
      if (expected.length === 0) return [{ path, message: issue.message }];
      return [{ path, message: `expected ${expected.join(' or ')}${receivedText(issue)}` }];
    }
    case 'invalid_type':
      return [{ path, message: `expected ${article(issue.expected)}${receivedText(issue)}` }];
    default:
      return [{ path, message: issue.message.replace(/^Invalid (input|option): /, '') }];
  }
}

/** The expectation one union branch states, e.g. `'none'` or `an object`. */
function expectation(issue: Issue): string {
  if (issue.code === 'invalid_type') return article(issue.expected);
  if (issue.code === 'invalid_value') return issue.values.map((v) => JSON.stringify(v).replace(/^"(.*)"$/, "'$1'")).join(' or ');
  return issue.message.replace(/^Invalid (input|option): (expected )?/, '');
}

function receivedText(issue: Issue): string {
  const input = (issue as { input?: unknown }).input;
  if (input === undefined) return ', got nothing';
  const kind = input === null ? 'null' : Array.isArray(input) ? 'a list' : typeof input === 'object' ? 'a mapping' : typeof input;
  // A string is never echoed: it may be a secret interpolated from the environment.
  return `, got ${kind}${typeof input === 'number' || typeof input === 'boolean' ? ` (${JSON.stringify(input)})` : ''}`;
}

function article(type: string): string {
  if (type === 'object') return 'a mapping (key: value)';
  if (type === 'array') return 'a list';
  if (type === 'record') return 'a mapping (name: value)';
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function unknownKeyText(key: string, known: string[]): string {
  const near = closest(key, known);
  const hint = near ? `did you mean '${near}'?` : known.length > 0 ? `known here: ${known.join(', ')}` : 'check the spelling against `warden config schema`';
  return `unknown setting '${key}'; ${hint}`;
}

/** The known key nearest to `key` (edit distance within a third of its length, at least 1), if any. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(key.length / 3)) + 1;
  for (const candidate of known) {
    const d = candidate.toLowerCase() === key.toLowerCase() ? 0 : distance(key, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Damerau-Levenshtein (optimal string alignment): a swapped pair of letters is one edit. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The keys an object at `path` of the schema accepts (records and lists step over their names and indexes). */
function knownKeysAt(root: Schema, path: Path): string[] {
  let nodes: Schema[] = [root];
  for (const part of path) nodes = nodes.flatMap((n) => objects(n)).flatMap((n) => child(n, part));
  return [...new Set(nodes.flatMap(objects).flatMap((n) => Object.keys(n.def.shape ?? {})))];
}

function defOf(s: Schema): Def {
  return (s as { def: Def }).def;
}

/** The object, record and array schemas `s` stands for, through defaults, optionals, pipes and unions. */
function objects(s: Schema): { def: Def }[] {
  const def = defOf(s);
  switch (def.type) {
    case 'object':
    case 'record':
    case 'array':
      return [s as { def: Def }];
    case 'default':
    case 'optional':
    case 'nullable':
    case 'prefault':
      return objects(def.innerType!);
    case 'pipe':
      return [...objects(def.in!), ...objects(def.out!)];
    case 'union':
      return def.options!.flatMap(objects);
    default:
      return [];
  }
}

function child(s: { def: Def }, part: string | number): Schema[] {
  if (s.def.type === 'object') return s.def.shape?.[String(part)] ? [s.def.shape[String(part)]!] : [];
  if (s.def.type === 'record') return [s.def.valueType!];
  if (s.def.type === 'array') return [s.def.element!];
  return [];
}
