/**
 * The CPU cost of a DPoP proof check (RFC 9449) at the resource, against a bearer call, in one run:
 * the gateway's own AccessTokenVerifier (the embedded AS's ES256 at+jwt, the revocation list in a real
 * SQLite store) verifying
 *   - bearer: a bearer token (after the first call, the verified-token cache answers; the revocation list is read),
 *   - DPoP: a DPoP-bound token with a fresh proof (ES256 and EdDSA) each call: the same, plus one proof
 *     signature verify, the htm/htu/iat/ath/jkt checks and a replay-cache insert.
 * Proofs are made before each timed batch, so the client's signing is not counted. Batches are interleaved
 * and the order rotates each round; medians of the rounds. Ends with the replay cache's size, which stays
 * bounded by the proof window whatever the number of calls.
 *
 *   npm run bench:dpop [-- --rounds 5 --calls 2000 --json]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { SqliteStore } from '../src/store/index.js';
import { AccessTokenVerifier } from '../src/resource/access-token-verifier.js';
import { DpopVerifier, type Presentation } from '../src/resource/dpop.js';
import { MemoryReplayCache } from '../src/store/replay-cache.js';
import { DPOP_DEFAULTS } from '../src/config/index.js';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const ROUNDS = arg('rounds', 5);
const CALLS = arg('calls', 2_000);
const JSON_OUT = argv.includes('--json');
const ISSUER = 'http://127.0.0.1:8787';
const RESOURCE = `${ISSUER}/mcp/bench`;

const work = mkdtempSync(join(tmpdir(), 'warden-bench-dpop-'));
const store = new SqliteStore(join(work, 'warden.db'));

// The AS's signing key and tokens as oidc-provider makes them (ES256 at+jwt with these claims).
const asKeys = await generateKeyPair('ES256', { extractable: true });
const asJwk = { ...(await exportJWK(asKeys.publicKey)), kid: 'bench', alg: 'ES256', use: 'sig' };
async function accessToken(cnf?: { jkt: string }): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub: 'alice', client_id: 'bench-client', scope: 'bench:echo', jti: randomUUID(), ...(cnf ? { cnf } : {}) })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'bench' })
    .setIssuer(ISSUER).setAudience(RESOURCE).setIssuedAt(now).setExpirationTime(now + 3600)
    .sign(asKeys.privateKey);
}

interface ClientKey { alg: string; privateKey: CryptoKey; jwk: JWK; jkt: string }
async function clientKey(alg: 'ES256' | 'EdDSA'): Promise<ClientKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { alg, privateKey, jwk, jkt: await calculateJwkThumbprint(jwk, 'sha256') };
}

const replays = new MemoryReplayCache(DPOP_DEFAULTS.replayCacheSize);
const verifier = new AccessTokenVerifier({
  issuer: ISSUER, keys: () => [asJwk], reloadKeys: async () => {}, revocations: store.revocations,
  dpop: new DpopVerifier(DPOP_DEFAULTS, { replays }),
});

const bearerToken = await accessToken();
const clients = { ES256: await clientKey('ES256'), EdDSA: await clientKey('EdDSA') };
const boundTokens = { ES256: await accessToken({ jkt: clients.ES256.jkt }), EdDSA: await accessToken({ jkt: clients.EdDSA.jkt }) };
const ath = (t: string) => createHash('sha256').update(t).digest('base64url');

async function proofs(client: ClientKey, token: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push(await new SignJWT({ jti: randomUUID(), htm: 'POST', htu: RESOURCE, iat: Math.floor(Date.now() / 1000), ath: ath(token) })
      .setProtectedHeader({ alg: client.alg, typ: 'dpop+jwt', jwk: client.jwk } as never).sign(client.privateKey));
  }
  return out;
}

type Scenario = 'bearer' | 'DPoP ES256' | 'DPoP EdDSA';
const SCENARIOS: Scenario[] = ['bearer', 'DPoP ES256', 'DPoP EdDSA'];

/** CPU µs per call of one batch (this process's user + system time: only the verifier runs during it). */
async function batch(scenario: Scenario): Promise<number> {
  const alg = scenario === 'DPoP ES256' ? 'ES256' : 'EdDSA';
  const token = scenario === 'bearer' ? bearerToken : boundTokens[alg];
  const made = scenario === 'bearer' ? [] : await proofs(clients[alg], token, CALLS);
  const context = (i: number): { audiences: string[]; presentation: Presentation } => ({
    audiences: [RESOURCE],
    presentation: scenario === 'bearer'
      ? { scheme: 'bearer', proofs: [], method: 'POST', url: RESOURCE }
      : { scheme: 'dpop', proofs: [made[i]!], method: 'POST', url: RESOURCE },
  });
  const start = process.cpuUsage();
  for (let i = 0; i < CALLS; i++) await verifier.verify(token, context(i));
  const used = process.cpuUsage(start);
  return (used.user + used.system) / CALLS;
}

const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results = new Map<Scenario, number[]>(SCENARIOS.map((s) => [s, []]));
try {
  for (const s of SCENARIOS) await batch(s); // warm-up: JIT, the verified-token cache, SQLite's page cache
  for (let round = 0; round < ROUNDS; round++) {
    const order = SCENARIOS.map((_, i) => SCENARIOS[(i + round) % SCENARIOS.length]!);
    for (const s of order) results.get(s)!.push(await batch(s));
    process.stderr.write(`bench: round ${round + 1}: ${order.map((s) => `${s} ${results.get(s)!.at(-1)!.toFixed(1)} µs`).join(', ')}\n`);
  }
  const bearer = med(results.get('bearer')!);
  const rows = SCENARIOS.map((s) => ({ scenario: s, cpuUsPerCall: med(results.get(s)!), ratioToBearer: med(results.get(s)!) / bearer, proofCheckUs: med(results.get(s)!) - bearer }));
  const totalCalls = CALLS * (ROUNDS + 1) * 2;
  if (JSON_OUT) {
    process.stdout.write(`${JSON.stringify({ rounds: ROUNDS, calls: CALLS, cpus: cpus().length, node: process.version, rows, replayCache: { entries: replays.size, max: replays.maxEntries, proofsChecked: totalCalls } }, null, 2)}\n`);
  } else {
    const lines = [
      `DPoP bench: ${ROUNDS} rounds x ${CALLS} calls per scenario, interleaved; node ${process.version}, ${cpus().length} CPUs (shared); medians`,
      '',
      '| call | CPU µs/call | ratio to bearer | proof check µs |',
      '|---|---:|---:|---:|',
      ...rows.map((r) => `| ${r.scenario} | ${r.cpuUsPerCall.toFixed(1)} | ${r.ratioToBearer.toFixed(2)} | ${r.scenario === 'bearer' ? '–' : r.proofCheckUs.toFixed(1)} |`),
      '',
      `replay cache: ${replays.size} entries after ${totalCalls} proofs (bound: ${replays.maxEntries}; entries live for the ${DPOP_DEFAULTS.proofWindow / 1000} s proof window after their iat)`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
} finally {
  await store.close();
  rmSync(work, { recursive: true, force: true });
}
