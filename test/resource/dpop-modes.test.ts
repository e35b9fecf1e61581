import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { startOAuthGatewayForAttacks, REDIRECT, type OAuthSetup } from '../helpers/oauth.js';
import { obtainCode } from '../helpers/oauth-flow.js';
import { initialize } from '../helpers/client.js';
import { createKey } from '../helpers/keys.js';
import { DpopKey, dpopTokenRequest, initializeWith } from '../helpers/dpop.js';
import { DpopVerifier } from '../../src/resource/dpop.js';
import { MemoryReplayCache, ReplayCacheFull } from '../../src/store/replay-cache.js';
import { DPOP_DEFAULTS, configSchema } from '../../src/config/index.js';

/** The DPoP settings beyond `allowed`: server nonces, `required`, `off`, and the bounded replay cache. */

const setups: OAuthSetup[] = [];
after(async () => {
  await Promise.all(setups.map((s) => s.close()));
});

async function codeForm(s: OAuthSetup) {
  const grant = await obtainCode(s.issuer, { username: 'alice', resource: s.notes });
  return { grant_type: 'authorization_code', code: grant.code, redirect_uri: REDIRECT, code_verifier: grant.pkce.verifier, client_id: grant.clientId, resource: s.notes };
}

test('nonce: the token endpoint and the gateway each answer the first proof with use_dpop_nonce and a DPoP-Nonce; the retry with it works, and its answer carries the next nonce', async () => {
  const s = await startOAuthGatewayForAttacks({ dpop: { mode: 'allowed', nonce: true } });
  setups.push(s);
  const key = await DpopKey.create();
  const form = await codeForm(s);

  const first = await dpopTokenRequest(s.issuer, key, form);
  assert.equal(first.status, 400, first.text);
  assert.equal(first.json.error, 'use_dpop_nonce');
  const asNonce = first.headers.get('dpop-nonce');
  assert.ok(asNonce);
  const tokens = await dpopTokenRequest(s.issuer, key, form, asNonce);
  assert.equal(tokens.status, 200, tokens.text);
  const token = tokens.json.access_token as string;

  const bare = await initializeWith(s.notes, 'DPoP', token, [await key.proof('POST', s.notes, { accessToken: token })]);
  assert.equal(bare.status, 401);
  assert.match(bare.headers.get('www-authenticate') ?? '', /DPoP realm="mcp", algs="[^"]+", error="use_dpop_nonce"/);
  const nonce = bare.headers.get('dpop-nonce');
  assert.ok(nonce, 'a DPoP-Nonce header with the challenge');

  const wrong = await initializeWith(s.notes, 'DPoP', token, [await key.proof('POST', s.notes, { accessToken: token, nonce: 'made-up' })]);
  assert.equal(wrong.status, 401);
  assert.match(wrong.text, /expired or unknown DPoP nonce/);

  const retry = await initializeWith(s.notes, 'DPoP', token, [await key.proof('POST', s.notes, { accessToken: token, nonce })]);
  assert.equal(retry.status, 200, retry.text);
  // RFC 9449 §8.2: every answer to a checked proof carries the nonce to use next; it works for the next request.
  const next = retry.headers.get('dpop-nonce');
  assert.ok(next, 'a DPoP-Nonce header with the 200');
  assert.equal((await initializeWith(s.notes, 'DPoP', token, [await key.proof('POST', s.notes, { accessToken: token, nonce: next })])).status, 200);
  // Control: an API key's answer has none (nothing to prove).
  const { key: apiKey } = await createKey(s.dbPath, { subject: 'svc', scopes: ['notes:read'] });
  const keyed = await initialize(s.notes, apiKey);
  assert.equal(keyed.status, 200);
  assert.equal(keyed.headers.get('dpop-nonce'), null);
});

test('required: the token endpoint refuses a request without a proof; bearer challenges stay only for API keys; metadata says required', async () => {
  const s = await startOAuthGatewayForAttacks({ dpop: 'required' });
  setups.push(s);
  const form = await codeForm(s);
  const proofless = await dpopTokenRequest(s.issuer, undefined, form);
  assert.equal(proofless.status, 400, proofless.text);
  assert.equal(proofless.json.error, 'invalid_dpop_proof');
  const key = await DpopKey.create();
  const tokens = await dpopTokenRequest(s.issuer, key, form);
  assert.equal(tokens.status, 200, tokens.text);
  assert.equal(tokens.json.token_type, 'DPoP');
  const token = tokens.json.access_token as string;
  assert.equal((await initializeWith(s.notes, 'DPoP', token, [await key.proof('POST', s.notes, { accessToken: token })])).status, 200);

  const prm = await (await fetch(`${s.issuer}/.well-known/oauth-protected-resource/mcp/notes`)).json() as Record<string, unknown>;
  assert.equal(prm.dpop_bound_access_tokens_required, true);
  // API keys are not OAuth tokens: they still work as Bearer, so the Bearer challenge stays beside DPoP's.
  const { key: apiKey } = await createKey(s.dbPath, { subject: 'svc', scopes: ['notes:read'] });
  assert.equal((await initialize(s.notes, apiKey)).status, 200);
  assert.match((await initialize(s.notes, undefined)).headers.get('www-authenticate') ?? '', /^Bearer .*, DPoP realm="mcp", algs=/);
});

test('required: a plain bearer token of the embedded AS is refused; the same token passes under allowed', async () => {
  const settings = { ...DPOP_DEFAULTS, mode: 'required' as const };
  const verifier = new DpopVerifier(settings);
  const presentation = { scheme: 'bearer' as const, proofs: [], method: 'POST', url: 'https://gw.example/mcp' };
  await assert.rejects(verifier.confirm({ jti: 'j1' }, 'token', presentation), (err: Error & { error?: string }) => err.error === 'invalid_token' && /only DPoP-bound/.test(err.message));
  // The same token under `allowed` is a bearer token.
  assert.equal(await new DpopVerifier(DPOP_DEFAULTS).confirm({ jti: 'j1' }, 'token', presentation), undefined);
});

test('off: the AS issues bearer tokens even to a client that sends a proof, and the DPoP scheme is refused', async () => {
  const s = await startOAuthGatewayForAttacks({ dpop: 'off' });
  setups.push(s);
  const key = await DpopKey.create();
  const tokens = await dpopTokenRequest(s.issuer, key, await codeForm(s));
  assert.equal(tokens.status, 200, tokens.text);
  assert.equal(tokens.json.token_type, 'Bearer');
  assert.equal(decodeJwt(tokens.json.access_token).cnf, undefined);
  const token = tokens.json.access_token as string;
  const asDpop = await initializeWith(s.notes, 'DPoP', token, [await key.proof('POST', s.notes, { accessToken: token })]);
  assert.equal(asDpop.status, 401);
  assert.doesNotMatch(asDpop.headers.get('www-authenticate') ?? '', /DPoP/);
  assert.equal((await initialize(s.notes, token)).status, 200);
  const prm = await (await fetch(`${s.issuer}/.well-known/oauth-protected-resource/mcp/notes`)).json() as Record<string, unknown>;
  assert.equal(prm.dpop_bound_access_tokens_required, undefined);
});

test('config: auth.oauth.dpop takes a mode or an object, allowed by default, bounds its window', () => {
  const parse = (dpop: unknown) => configSchema.safeParse({ auth: { oauth: dpop === undefined ? {} : { dpop } }, upstreams: { a: { url: 'http://127.0.0.1:1/mcp' } } });
  const oauthOf = (r: ReturnType<typeof parse>) => (r.data!.auth as { oauth: { dpop: unknown } }).oauth.dpop;
  assert.deepEqual(oauthOf(parse(undefined)), DPOP_DEFAULTS);
  assert.deepEqual(oauthOf(parse('required')), { ...DPOP_DEFAULTS, mode: 'required' });
  assert.deepEqual(oauthOf(parse({ mode: 'allowed', nonce: true, proofWindow: '5m' })), { ...DPOP_DEFAULTS, nonce: true, proofWindow: 300_000 });
  assert.equal(parse('sometimes').success, false);
  assert.equal(parse({ proofWindow: '1h' }).success, false);
  assert.equal(parse({ replayCacheSize: 10 }).success, false);
});

test('the jti replay cache stays bounded: expired entries go, and a cache full of live entries refuses rather than forgets', async () => {
  let now = 1_000_000;
  const cache = new MemoryReplayCache(1_000, () => now);
  // A steady stream over 10 minutes with a 60 s window never holds much more than a window's worth.
  let peak = 0;
  for (let i = 0; i < 20_000; i++) {
    now += 100; // 10 proofs a second: 600 live at any time
    assert.equal(await cache.seen(`jti-${i}`, now + 60_000), false);
    peak = Math.max(peak, cache.size);
  }
  assert.ok(peak <= 601, `peak ${peak}: expired entries are dropped as new ones come`);
  // Replays within the entry's life are caught.
  assert.equal(await cache.seen('jti-19999', now + 60_000), true);

  const full = new MemoryReplayCache(1_000, () => now);
  for (let i = 0; i < 1_000; i++) await full.seen(`live-${i}`, now + 60_000);
  await assert.rejects(full.seen('one-more', now + 60_000), ReplayCacheFull);
  assert.equal(full.size, 1_000);
  assert.equal(await full.seen('live-0', now + 60_000), true, 'no live entry was forgotten');
  now += 60_001;
  assert.equal(await full.seen('one-more', now + 60_000), false, 'room again once entries expire');
  assert.ok(full.size <= 1_000);
});
