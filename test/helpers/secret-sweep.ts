import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import Database from 'better-sqlite3';

/**
 * The suite-wide no-secret sweep. While `scripts/run-tests.mjs` runs the suite it names a folder in
 * WARDEN_SECRET_SWEEP; then every helper that makes a secret (API keys, access and refresh tokens, codes and
 * verifiers, client secrets, passwords) records it here, and every helper that sees what the gateway says
 * (its log, its audit records, HTTP error bodies, the CLI's output) records that. Each test process writes its
 * two files when it exits; test/attacks/no-secret-sweep.test.ts, run last, looks for every secret in every
 * output. Without the variable nothing is kept.
 */

export const SWEEP_ENV = 'WARDEN_SECRET_SWEEP';
const dir = process.env[SWEEP_ENV];

export type SecretKind = 'api_key' | 'token' | 'code' | 'client_secret' | 'password' | 'opaque';

export interface SweptSecret {
  kind: SecretKind;
  value: string;
  /** The test file that made it. */
  file: string;
}

export interface SweptOutput {
  /** What the text is: `gateway log`, `audit records`, `HTTP error body`, `CLI output`... */
  where: string;
  file: string;
  text: string;
}

const testFile = relative(process.cwd(), process.argv[1] ?? 'unknown');
const secrets = new Map<string, SecretKind>();
const outputs: { where: string; text: string }[] = [];
const deferred: { where: string; read: () => string }[] = [];

/** Keeps a secret this test made, to be looked for in every output of the suite. */
export function recordSecret(kind: SecretKind, value: string | undefined): void {
  if (!dir || !value || typeof value !== 'string') return;
  // A more specific kind wins over `opaque` (the same token may be remembered twice).
  if (!secrets.has(value) || secrets.get(value) === 'opaque') secrets.set(value, kind);
}

/** Keeps something the gateway or the CLI said, to be searched. */
export function recordOutput(where: string, text: string): void {
  if (dir && text) outputs.push({ where, text });
}

/** Reads an output when the test process ends (a log still growing, an audit chain in a store file). */
export function recordAtExit(where: string, read: () => string): void {
  if (dir) deferred.push({ where, read });
}

/** The `body` of every audit record in a SQLite store file (read-only; the file may be gone by then). */
export function auditBodies(dbPath: string): string {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT body FROM audit_records').all() as { body: string }[]).map((r) => r.body).join('\n');
  } finally {
    db.close();
  }
}

if (dir) {
  process.on('exit', () => {
    for (const { where, read } of deferred) {
      try {
        recordOutput(where, read());
      } catch {
        // The store file of a test that removed its folder: nothing left to search.
      }
    }
    const lines = (items: unknown[]) => items.map((i) => `${JSON.stringify(i)}\n`).join('');
    appendFileSync(join(dir, `secrets-${process.pid}.jsonl`), lines([...secrets].map(([value, kind]) => ({ kind, value, file: testFile }))));
    appendFileSync(join(dir, `output-${process.pid}.jsonl`), lines(outputs.map((o) => ({ ...o, file: testFile }))));
  });
}

/** Everything the processes of a run recorded, each secret once. */
export function readSweep(folder: string): { secrets: SweptSecret[]; outputs: SweptOutput[] } {
  const read = <T>(prefix: string): T[] => readdirSync(folder)
    .filter((f) => f.startsWith(prefix))
    .flatMap((f) => readFileSync(join(folder, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T));
  // One entry per secret (a shared test password is recorded by every process that imports it).
  const secrets = new Map<string, SweptSecret>();
  for (const s of read<SweptSecret>('secrets-')) if (!secrets.has(s.value) || secrets.get(s.value)!.kind === 'opaque') secrets.set(s.value, s);
  return { secrets: [...secrets.values()], outputs: read<SweptOutput>('output-') };
}

export interface Leak {
  kind: SecretKind;
  /** The first six characters and the length: enough to find it, never the secret itself. */
  secret: string;
  madeIn: string;
  where: string;
  file: string;
}

/** Runs of the characters tokens, keys, codes and base64url secrets are made of. */
const TOKEN_RUN = /[A-Za-z0-9_~-]{16,}/g;
const WHOLE_RUN = /^[A-Za-z0-9_~-]{16,}$/;

/** What identifies a secret in text: a JWT by its signature, a key or code as a whole; else nothing (search it as a phrase). */
function fingerprint(value: string): string | undefined {
  const parts = value.split('.');
  if (parts.length === 3 && WHOLE_RUN.test(parts[2]!)) return parts[2];
  return WHOLE_RUN.test(value) ? value : undefined;
}

/**
 * Every secret found in any output. Token-shaped secrets are looked up among the token-shaped runs of each
 * output (percent-encodings split runs, so a secret in a query string is found too): one pass over the text
 * whatever the number of secrets. Others (passwords) are searched as they are, form-encoded and URL-encoded.
 */
export function findLeaks(secretList: readonly SweptSecret[], outputList: readonly SweptOutput[]): Leak[] {
  const byPrint = new Map<string, SweptSecret>();
  const phrases: { secret: SweptSecret; forms: string[] }[] = [];
  for (const s of secretList) {
    const print = fingerprint(s.value);
    if (print) byPrint.set(print, s);
    else phrases.push({ secret: s, forms: [...new Set([s.value, encodeURIComponent(s.value), new URLSearchParams({ p: s.value }).toString().slice(2)])] });
  }
  const leaks = new Map<string, Leak>();
  const leak = (s: SweptSecret, o: SweptOutput) => {
    const secret = `${s.value.slice(0, 6)}… (${s.value.length} chars)`;
    leaks.set(`${s.value}\u0000${o.where}\u0000${o.file}`, { kind: s.kind, secret, madeIn: s.file, where: o.where, file: o.file });
  };
  for (const o of outputList) {
    for (const [run] of o.text.replace(/%[0-9A-Fa-f]{2}/g, ' ').matchAll(TOKEN_RUN)) {
      const s = byPrint.get(run);
      if (s) leak(s, o);
    }
    for (const { secret, forms } of phrases) if (forms.some((f) => o.text.includes(f))) leak(secret, o);
  }
  return [...leaks.values()];
}
