import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { AccessTokenVerifier } from '../../src/resource/access-token-verifier.js';
import { AuthenticationError } from '../../src/resource/errors.js';
import { SqliteStore } from '../../src/store/index.js';

const ISSUER = 'https://warden.example';
const NOTES = 'https://warden.example/mcp/notes';

async function setup() {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const store = new SqliteStore(join(mkdtempSync(join(tmpdir(), 'warden-atv-')), 'w.db'));
  let now = Date.UTC(2026, 0, 1);
  let reloads = 0;
  const verifier = new AccessTokenVerifier({
    issuer: ISSUER,
    keys: () => [jwk],
    reloadKeys: async () => {
      reloads++;
    },
    revocations: store.revocations,
    now: () => now,
  });
  const sign = (claims: Record<string, unknown> = {}, ttlSeconds = 600) => new SignJWT({ client_id: 'c1', scope: 'notes:read', grant_id: 'g1', ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
    .setIssuer(ISSUER).setAudience(NOTES).setSubject('alice').setJti(`j${Math.random()}`)
    .setIssuedAt(Math.floor(now / 1000)).setExpirationTime(Math.floor(now / 1000) + ttlSeconds)
    .sign(privateKey);
  return { verifier, store, sign, advance: (ms: number) => { now += ms; }, at: () => now, reloads: () => reloads };
}

const refused = (pattern: RegExp) => (err: unknown) => err instanceof AuthenticationError && err.error === 'invalid_token' && pattern.test(err.message);

test('a verified token is remembered, yet refused once it expires (the clock is checked on every hit)', async () => {
  const s = await setup();
  const token = await s.sign({}, 60);
  const principal = await s.verifier.verify(token, { audiences: [NOTES] });
  assert.equal(principal.subject, 'alice');
  assert.deepEqual(principal.scopes, ['notes:read']);
  assert.equal((await s.verifier.verify(token, { audiences: [NOTES] })).credential.kind, 'oauth');
  s.advance(66_000);
  await assert.rejects(s.verifier.verify(token, { audiences: [NOTES] }), refused(/expired/));
  await s.store.close();
});

test('a remembered token is still checked against the revocation list on every request', async () => {
  const s = await setup();
  const token = await s.sign();
  await s.verifier.verify(token, { audiences: [NOTES] });
  s.advance(1_000);
  await s.store.revocations.add({ kind: 'grant', value: 'g1' }, s.at(), s.at() + 3_600_000);
  await assert.rejects(s.verifier.verify(token, { audiences: [NOTES] }), refused(/revoked/));
  await s.store.close();
});

test('a token verified for one audience is not remembered for another', async () => {
  const s = await setup();
  const token = await s.sign();
  await s.verifier.verify(token, { audiences: [NOTES] });
  await assert.rejects(s.verifier.verify(token, { audiences: ['https://warden.example/mcp/web'] }), refused(/another resource/));
  await s.store.close();
});

test('an unknown kid reloads the keys once, then is refused; a second one within 5 s does not reload again', async () => {
  const s = await setup();
  const other = await generateKeyPair('ES256');
  const forged = await new SignJWT({ client_id: 'c1' }).setProtectedHeader({ alg: 'ES256', kid: 'nope', typ: 'at+jwt' })
    .setIssuer(ISSUER).setAudience(NOTES).setSubject('alice').setJti('x').setIssuedAt(Math.floor(s.at() / 1000)).setExpirationTime(Math.floor(s.at() / 1000) + 60)
    .sign(other.privateKey);
  await assert.rejects(s.verifier.verify(forged, { audiences: [NOTES] }), refused(/key this gateway does not know/));
  await assert.rejects(s.verifier.verify(forged, { audiences: [NOTES] }), refused(/key this gateway does not know/));
  assert.equal(s.reloads(), 1);
  await s.store.close();
});

test('tokens with a cnf claim (DPoP or mTLS bound) are refused rather than accepted as bearer tokens', async () => {
  const s = await setup();
  const token = await s.sign({ cnf: { jkt: 'abc' } });
  await assert.rejects(s.verifier.verify(token, { audiences: [NOTES] }), refused(/sender-constrained/));
  await s.store.close();
});
