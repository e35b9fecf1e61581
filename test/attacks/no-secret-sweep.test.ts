import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SWEEP_ENV, findLeaks, readSweep, type SecretKind, type SweptOutput, type SweptSecret } from '../helpers/secret-sweep.js';

/**
 * No secret (API key, token, code, password, client secret) in any log line, audit record, error body or CLI
 * output across the whole suite. scripts/run-tests.mjs runs this file after all the others, with the folder
 * where their helpers recorded every secret they made and every output they saw (test/helpers/secret-sweep.ts).
 */

/**
 * At least this many of each kind must have been made, and this much of each output (characters) seen, or the
 * sweep proves nothing: about half of what a full run records (Dec 2026: 34 API keys, 158 tokens, 73 codes and
 * verifiers, 6 client secrets, 3 passwords; 0.4 MB of gateway log, 1.4 MB of audit records, 50 kB of error bodies).
 * Passwords: the shared test password always; the ones `warden users` generates only when its tests get that far.
 */
const AT_LEAST: Record<Exclude<SecretKind, 'opaque'>, number> = { api_key: 15, token: 75, code: 35, client_secret: 3, password: 1 };
const OUTPUT_AT_LEAST: Record<string, number> = { 'gateway log': 150_000, 'audit records': 500_000, 'HTTP error body': 20_000, 'CLI output': 20_000 };

test('the sweep finds a secret in JSON, a header, a query string, a form, a JWT by its signature, and nowhere else', () => {
  const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbi1pdHNlbGYtMTIzNDU2';
  const secrets: SweptSecret[] = [
    { kind: 'api_key', value: `wdn_${'a1B2'.repeat(15)}x`, file: 'a' },
    { kind: 'token', value: jwt, file: 'a' },
    { kind: 'code', value: 'Zm9vYmFyYmF6cXV4LWNvZGUtdmVyaWZpZXI', file: 'a' },
    { kind: 'password', value: 'correct horse battery', file: 'a' },
    { kind: 'client_secret', value: 'never-printed-client-secret-value', file: 'a' },
  ];
  const out = (where: string, text: string): SweptOutput => ({ where, file: 'b', text });
  const leaks = findLeaks(secrets, [
    out('json', `{"msg":"refused","key":"${secrets[0]!.value}"}`),
    out('header', `authorization: Bearer ${jwt}`),
    out('signature only', `sig=${jwt.split('.')[2]}`),
    out('query', `GET /cb?code%3D${secrets[2]!.value}&state=x`),
    out('form', 'username=alice&password=correct+horse+battery'),
    out('clean', `a key id ${secrets[0]!.value.slice(0, 16)}, a payload ${jwt.split('.')[1]}, ${secrets[2]!.value.slice(1)}, correct horse`),
  ]);
  assert.deepEqual(leaks.map((l) => `${l.kind} in ${l.where}`).sort(), ['api_key in json', 'code in query', 'password in form', 'token in header', 'token in signature only']);
  assert.ok(leaks.every((l) => !l.secret.includes(secrets[0]!.value.slice(6))), 'a report names only the first six characters');
});

test('no secret made anywhere in the suite is in any log line, audit record, error body or CLI output', () => {
  const dir = process.env[SWEEP_ENV];
  assert.ok(dir, `run the whole suite with scripts/run-tests.mjs: it names the sweep folder in ${SWEEP_ENV} and runs this file last`);
  const { secrets, outputs } = readSweep(dir);

  const kinds = new Map<string, number>();
  for (const s of secrets) kinds.set(s.kind, (kinds.get(s.kind) ?? 0) + 1);
  const sizes = new Map<string, number>();
  for (const o of outputs) sizes.set(o.where, (sizes.get(o.where) ?? 0) + o.text.length);
  console.log(`sweep: ${secrets.length} secrets ${JSON.stringify(Object.fromEntries(kinds))}; ${outputs.length} outputs ${JSON.stringify(Object.fromEntries(sizes))} (characters)`);
  const leaks = findLeaks(secrets, outputs);
  for (const l of leaks) console.log(`LEAK: ${l.kind} ${l.secret} made in ${l.madeIn} found in the ${l.where} of ${l.file}`);
  for (const [kind, least] of Object.entries(AT_LEAST)) {
    assert.ok((kinds.get(kind) ?? 0) >= least, `only ${kinds.get(kind) ?? 0} secrets of kind ${kind} were recorded (at least ${least}): is the full suite running, and do its helpers still record them?`);
  }
  for (const [where, least] of Object.entries(OUTPUT_AT_LEAST)) {
    assert.ok((sizes.get(where) ?? 0) >= least, `only ${sizes.get(where) ?? 0} characters of ${where} were recorded (at least ${least})`);
  }

  assert.deepEqual(leaks.map((l) => `${l.kind} ${l.secret} (made in ${l.madeIn}) in the ${l.where} of ${l.file}`), []);
});
