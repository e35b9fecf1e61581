import { globToRegExp } from '../shared/glob.js';

/**
 * Redaction of tool arguments before they enter an audit record (only when an operator enabled that).
 * Two nets: field names that announce a secret, and string values that look like one wherever they are.
 * The input is the caller's, so every limit here (depth, items, size) is about a hostile argument too:
 * redaction must stay linear in the size of the input and must never leave part of a secret behind.
 */

export interface RedactionOptions {
  /** Extra field names to redact: case-insensitive, exact or glob with `*` (and `?`). */
  keys?: readonly string[];
  /** Larger results (canonical JSON, in bytes) are recorded as their size only. Default 2048. */
  maxBytes?: number;
}

export const REDACTED = '[REDACTED]';
export const TRUNCATED = '[TRUNCATED]';
export const DEFAULT_MAX_BYTES = 2048;
/** Deeper than any real tool argument; a cycle or a hostile nesting ends here. */
export const MAX_DEPTH = 8;
/** Per array or object; the rest becomes one `[TRUNCATED]` entry (in an object, its value is how many were left out). */
export const MAX_ITEMS = 100;
/**
 * Values visited in one argument: depth and items alone still allow 100^8. Far more than any record can keep
 * (maxBytes is at most 64 KiB), so past it the argument would be recorded as its size only anyway.
 */
export const MAX_NODES = 10_000;

export function redactArguments(value: unknown, options: RedactionOptions = {}): unknown {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const redacted = walk(value, 0, { extra: extraKeyMatcher(options.keys), nodesLeft: MAX_NODES });
  if (redacted === undefined) return undefined;
  // Canonical JSON only reorders keys, so its length is JSON.stringify's; the size is taken after redaction,
  // so the record never keeps a cut-off piece of a secret, and it keeps nothing at all when too large.
  const bytes = Buffer.byteLength(JSON.stringify(redacted) ?? '', 'utf8');
  return bytes > maxBytes ? { truncated: true, bytes } : redacted;
}

type KeyMatcher = (name: string) => boolean;

interface Walk {
  extra: KeyMatcher | undefined;
  nodesLeft: number;
}

function walk(value: unknown, depth: number, ctx: Walk): unknown {
  if (--ctx.nodesLeft < 0) return TRUNCATED;
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') {
    // What JSON cannot hold is dropped or replaced as JSON.stringify would (a bigint kept as text), so that a
    // record with arguments can always be sealed: canonicalJson refuses NaN and Infinity.
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'number' && !Number.isFinite(value)) return null;
    return typeof value === 'function' || typeof value === 'symbol' ? undefined : value;
  }
  if (depth >= MAX_DEPTH) return TRUNCATED;
  if (Array.isArray(value)) return walkArray(value, depth, ctx);
  return walkObject(value as object, depth, ctx);
}

function walkArray(value: readonly unknown[], depth: number, ctx: Walk): unknown[] {
  const out: unknown[] = [];
  const n = Math.min(value.length, MAX_ITEMS);
  for (let i = 0; i < n; i++) {
    const item = walk(value[i], depth + 1, ctx);
    out.push(item === undefined ? null : item);
  }
  if (value.length > MAX_ITEMS) out.push(TRUNCATED);
  return out;
}

function walkObject(value: object, depth: number, ctx: Walk): Record<string, unknown> {
  const entries: [string, unknown][] = [];
  const seen = new Set<string>();
  let count = 0;
  let omitted = 0;
  // for-in stops after MAX_ITEMS without listing a million keys first, as Object.keys would.
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (count >= MAX_ITEMS) {
      omitted++;
      continue;
    }
    count++;
    // Only data properties: a getter is code, and reading it could run anything or change the input.
    const desc = Object.getOwnPropertyDescriptor(value, key);
    if (!desc || !('value' in desc)) continue;
    // A name can hold a secret too (a key pasted where a field name goes).
    let name = redactString(key);
    for (let i = 2; seen.has(name); i++) name = `${redactString(key)} #${i}`;
    seen.add(name);
    if (isSecretName(key) || ctx.extra?.(key)) {
      entries.push([name, REDACTED]);
      continue;
    }
    const item = walk(desc.value, depth + 1, ctx);
    if (item !== undefined) entries.push([name, item]);
  }
  if (omitted > 0) entries.push([uniqueName(TRUNCATED, seen), omitted]);
  // fromEntries defines own properties, so `__proto__` or `constructor` stay plain data and set no prototype.
  return Object.fromEntries(entries);
}

function uniqueName(name: string, seen: Set<string>): string {
  let out = name;
  for (let i = 2; seen.has(out); i++) out = `${name} #${i}`;
  return out;
}

// ---- field names -----------------------------------------------------------------------------------------

/** Whole words (after splitting a name on separators and camelCase) that announce a secret. */
const SECRET_WORDS = new Set([
  'password', 'passwords', 'passwd', 'secret', 'secrets', 'token', 'apikey', 'authorization', 'cookie', 'cookies',
  'session', 'sessions', 'credential', 'credentials', 'privatekey', 'clientsecret', 'otp', 'pin',
]);
/**
 * Also found inside a longer word (`dbpassword`, `xapikey`): these are unambiguous. Short words such as
 * `pin`, `otp` or `token` are matched as whole words only, or `spinner`, `hotpot` and `tokenizer` would go.
 * (`max_tokens` is kept on purpose: it counts LLM tokens; so is `pwd`: to a shell tool it is a directory.)
 */
const SECRET_FRAGMENTS = ['password', 'passwd', 'apikey', 'credential', 'privatekey', 'authorization', 'secret'];

/** Names seen often are decided once; bounded so a stream of random names cannot grow it. */
const nameCache = new Map<string, boolean>();

export function isSecretName(name: string): boolean {
  const cached = nameCache.get(name);
  if (cached !== undefined) return cached;
  const result = decideName(name);
  if (name.length <= 64) {
    if (nameCache.size >= 1000) nameCache.clear();
    nameCache.set(name, result);
  }
  return result;
}

function decideName(name: string): boolean {
  if (name.length > 256) name = name.slice(0, 256);
  // "X-Api-Key" → x api key; "accessToken" → access token; "APIKey" → api key.
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    // Two adjacent words as one: api_key, private_key, client_secret.
    const pair = i + 1 < words.length ? word + words[i + 1]! : '';
    if (SECRET_WORDS.has(word) || SECRET_WORDS.has(pair)) return true;
    if (SECRET_FRAGMENTS.some((f) => word.includes(f) || pair.includes(f))) return true;
  }
  return false;
}

const matcherCache = new WeakMap<readonly string[], KeyMatcher>();

function extraKeyMatcher(keys: readonly string[] | undefined): KeyMatcher | undefined {
  if (!keys || keys.length === 0) return undefined;
  const cached = matcherCache.get(keys);
  if (cached) return cached;
  const exact = new Set<string>();
  const patterns: RegExp[] = [];
  for (const k of keys) {
    if (/[*?]/.test(k)) patterns.push(new RegExp(globToRegExp(k).source, 'i'));
    else exact.add(k.toLowerCase());
  }
  const matcher: KeyMatcher = (name) => exact.has(name.toLowerCase()) || patterns.some((re) => re.test(name));
  matcherCache.set(keys, matcher);
  return matcher;
}

// ---- string values ---------------------------------------------------------------------------------------

/**
 * Each pattern can start only where a run of token characters starts (the look-behinds), or after a fixed
 * literal, and either consumes what it scanned or gives up after a bounded look; so a 1 MB string costs a few
 * linear passes (an unanchored `eyJ[...]+\.` would be quadratic on "eyJeyJeyJ…"). `hint` is a literal the
 * match must contain: `includes` skips the rule far faster than the regex would fail.
 */
interface Rule {
  name: string;
  hint?: string;
  pattern: RegExp;
  replace: (match: string, ...groups: string[]) => string;
}

const RULES: readonly Rule[] = [
  // A PEM block without its END line is redacted to the end of the text rather than half kept.
  { name: 'pem', hint: '-----BEGIN', pattern: /-----BEGIN[\s\S]*?(?:-----END[ A-Z0-9]{0,64}-----|$)/g, replace: () => REDACTED },
  { name: 'url-password', hint: '://', pattern: /:\/\/([^\s:@/?#]{0,256}):([^\s@/?#]{1,256})@/g, replace: (_m, user) => `://${user}:${REDACTED}@` },
  {
    name: 'assignment',
    pattern: /(?<![A-Za-z0-9])((?:password|passwd|secret|token|api[_-]?key|access[_-]?token|client[_-]?secret)\s{0,4}[=:]\s{0,4})([^\s&;,'"]+)/gi,
    replace: (_m, head) => `${head}${REDACTED}`,
  },
  {
    name: 'authorization-scheme',
    pattern: /(?<![A-Za-z0-9])(Bearer|Basic)([ \t]{1,8})([A-Za-z0-9._~+/-]+=*)/gi,
    replace: (m, scheme, space, cred) => (isSchemeCredential(scheme!, cred!) ? `${scheme}${space}${REDACTED}` : m),
  },
  { name: 'warden-key', hint: 'wdn_', pattern: /(?<![0-9A-Za-z])wdn_[0-9A-Za-z]{61}(?![0-9A-Za-z])/g, replace: () => REDACTED },
  { name: 'jwt', hint: 'eyJ', pattern: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_.-]*/g, replace: () => REDACTED },
  { name: 'aws-access-key', hint: 'IA', pattern: /(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])/g, replace: () => REDACTED },
  { name: 'github-token', hint: '_', pattern: /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/g, replace: () => REDACTED },
  { name: 'slack-token', hint: 'xox', pattern: /(?<![A-Za-z0-9])xox[abpr]-[A-Za-z0-9-]{8,}/g, replace: () => REDACTED },
  { name: 'sk-key', hint: 'sk-', pattern: /(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{16,}/g, replace: () => REDACTED },
];

/**
 * Matches one string may have before the whole string is redacted instead: each match costs a little, and a
 * hostile "token=a token=a …" would otherwise buy a hundred thousand of them. Past this many secret-looking
 * pieces the text is not worth keeping anyway.
 */
const MAX_MATCHES = 256;

export function redactString(text: string): string {
  // Cheap exit: every rule needs at least 8 characters.
  if (text.length < 8) return text;
  let out = text;
  const budget = { left: MAX_MATCHES };
  for (const rule of RULES) {
    if (rule.hint !== undefined && !out.includes(rule.hint)) continue;
    const replaced = replaceBounded(out, rule, budget);
    if (replaced === undefined) return REDACTED;
    out = replaced;
  }
  return redactRandomRuns(out);
}

/**
 * String.replace with a global regex finds every match before it calls the replacer once, so it cannot be
 * stopped early; an exec loop can. Undefined when the budget ran out.
 */
function replaceBounded(text: string, rule: Rule, budget: { left: number }): string | undefined {
  const re = rule.pattern;
  re.lastIndex = 0;
  let out = '';
  let copied = 0;
  let matched = false;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (--budget.left < 0) return undefined;
    matched = true;
    out += text.slice(copied, m.index) + rule.replace(m[0], ...(m.slice(1) as string[]));
    copied = m.index + m[0].length;
    if (m[0].length === 0) re.lastIndex++;
  }
  return matched ? out + text.slice(copied) : text;
}

/** [A-Za-z0-9+/=_-]: base64, base64url and hex alphabets. */
const TOKEN_CHAR = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-') TOKEN_CHAR[c.charCodeAt(0)] = 1;
const MIN_RANDOM_RUN = 32;

/**
 * Long high-entropy tokens, by a hand-written scan: a regex for this costs several times more on prose,
 * since it is tried (and fails) at every word.
 */
function redactRandomRuns(text: string): string {
  if (text.length < MIN_RANDOM_RUN) return text;
  let out = '';
  let copied = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c >= 128 || TOKEN_CHAR[c] === 0) {
      i++;
      continue;
    }
    const start = i;
    while (i < n) {
      const d = text.charCodeAt(i);
      if (d >= 128 || TOKEN_CHAR[d] === 0) break;
      i++;
    }
    if (i - start >= MIN_RANDOM_RUN && looksRandom(text, start, i)) {
      out += text.slice(copied, start) + REDACTED;
      copied = i;
    }
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/** "Bearer authentication" is prose; "Bearer 3f9a…" is a credential. "Basic" must decode to user:password. */
function isSchemeCredential(scheme: string, cred: string): boolean {
  if (scheme.toLowerCase() === 'bearer') return cred.length >= 8 && (/[0-9._~+/=-]/.test(cred) || cred.length >= 20);
  if (cred.length < 4) return false;
  const decoded = Buffer.from(cred, 'base64').toString('latin1');
  return decoded.includes(':') && /^[\x20-\x7e]+$/.test(decoded);
}

/**
 * Letters and digits mixed, in the way random tokens mix them: both cases with a digit (base62/base64), or
 * digits frequent (hex, base36). Lower-case slash paths and snake_case names are text, not tokens; random
 * base64 is all lower case with a vanishing chance (about 1 in 10^7 at 32 characters).
 */
function looksRandom(text: string, start: number, end: number): boolean {
  let upper = 0;
  let lower = 0;
  let digits = 0;
  let slash = false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 47) slash = true;
    if (c >= 48 && c <= 57) digits++;
    else if (c >= 65 && c <= 90) upper++;
    else if (c >= 97 && c <= 122) lower++;
  }
  if (digits === 0 || upper + lower === 0) return false;
  if (upper === 0 && slash) return false;
  if (upper > 0 && lower > 0) return true;
  return digits / (digits + upper + lower) >= 0.2;
}
