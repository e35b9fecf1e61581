import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import {
  IDENTITY_JWT_TYPE, IDENTITY_KEY_USE, IdentityTokenSigner, PUBLICATION_WINDOW_MS, principalClaims,
} from '../../src/credentials/identity-tokens.js';
import { SqliteStore } from '../../src/store/index.js';
import type { Principal } from '../../src/shared/principal.js';

const ISSUER = 'https://warden.example';
const AUDIENCE = 'http://127.0.0.1:9000/mcp';
const TTL = 120_000;

const ALICE: Principal = {
  subject: 'alice',
  tenant: 'acme',
  credential: { kind: 'api_key', id: 'k_abc123' },
  scopes: ['notes:read', 'notes:write'],
  roles: ['editor'],
};
const BOB: Principal = { ...ALICE, subject: 'bob' };

/** A clock the test moves by hand, in milliseconds. */
function clock(start = Date.UTC(2030, 0, 1)) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

function verify(token: string, signer: IdentityTokenSigner, options: { issuer?: string; audience?: string; at?: number } = {}) {
  return jwtVerify(token, createLocalJWKSet(signer.jwks() as JSONWebKeySet), {
    issuer: options.issuer ?? ISSUER,
    audience: options.audience ?? AUDIENCE,
    typ: IDENTITY_JWT_TYPE,
    algorithms: ['ES256'],
    ...(options.at !== undefined && { currentDate: new Date(options.at) }),
  });
}

describe('IdentityTokenSigner', () => {
  let dir: string;
  const stores: SqliteStore[] = [];
  /** A fresh store file per test, closed at the end. */
  const openStore = (name: string, file = join(dir, `${name}.db`)) => {
    const store = new SqliteStore(file);
    stores.push(store);
    return store;
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'warden-identity-'));
  });
  after(async () => {
    for (const s of stores) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a token verifies against the JWKS and carries the principal; header typ and alg are set', async () => {
    const c = clock();
    const signer = await IdentityTokenSigner.open(openStore('verify').signingKeys, { issuer: ISSUER, now: c.now });
    const token = await signer.sign(ALICE, AUDIENCE, TTL);
    const { payload, protectedHeader } = await verify(token, signer, { at: c.now() });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(protectedHeader.typ, IDENTITY_JWT_TYPE);
    assert.equal(protectedHeader.kid, signer.currentKid);
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.tenant, 'acme');
    assert.equal(payload.scope, 'notes:read notes:write');
    assert.deepEqual(payload.roles, ['editor']);
    assert.deepEqual(payload.cred, { kind: 'api_key', id: 'k_abc123' });
    assert.equal(payload.iss, ISSUER);
    assert.equal(payload.aud, AUDIENCE);
    assert.equal(payload.iat, Math.floor(c.now() / 1000));
    assert.equal(payload.exp, payload.iat! + TTL / 1000);
    assert.match(payload.jti ?? '', /^[0-9a-f-]{36}$/);
    const { iss, aud, iat, exp, jti, ...claims } = payload;
    assert.deepEqual(claims, principalClaims(ALICE), 'nothing but the principal claims and the registered ones');
  });

  test('principalClaims: optional fields only when set, delegation as a nested RFC 8693 act', () => {
    assert.deepEqual(principalClaims({ subject: 's', credential: { kind: 'none', id: '-' }, scopes: [], roles: [] }), {
      sub: 's', scope: '', roles: [], cred: { kind: 'none', id: '-' },
    });
    const delegated: Principal = {
      ...ALICE,
      clientId: 'app',
      actor: { subject: 'agent', clientId: 'agent-app', credential: { kind: 'oauth', id: 't1' }, scopes: ['x'], roles: [], actor: { subject: 'svc', credential: { kind: 'mtls', id: 'c' }, scopes: [], roles: [] } },
    };
    const claims = principalClaims(delegated);
    assert.equal(claims.client_id, 'app');
    assert.deepEqual(claims.act, { sub: 'agent', client_id: 'agent-app', act: { sub: 'svc' } });
  });

  test('a wrong audience or issuer fails verification', async () => {
    const c = clock();
    const signer = await IdentityTokenSigner.open(openStore('wrong').signingKeys, { issuer: ISSUER, now: c.now });
    const token = await signer.sign(ALICE, AUDIENCE, TTL);
    await assert.rejects(verify(token, signer, { at: c.now(), audience: 'http://other/mcp' }), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'aud' });
    await assert.rejects(verify(token, signer, { at: c.now(), issuer: 'https://evil.example' }), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'iss' });
    // Another gateway's key (another store) does not verify it either.
    const other = await IdentityTokenSigner.open(openStore('wrong-other').signingKeys, { issuer: ISSUER, now: c.now });
    await assert.rejects(verify(token, other, { at: c.now() }), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
  });

  test('the token expires after its ttl', async () => {
    const c = clock();
    const signer = await IdentityTokenSigner.open(openStore('expiry').signingKeys, { issuer: ISSUER, now: c.now });
    const token = await signer.sign(ALICE, AUDIENCE, TTL);
    await verify(token, signer, { at: c.now() + TTL - 1_000 });
    await assert.rejects(verify(token, signer, { at: c.now() + TTL }), { code: 'ERR_JWT_EXPIRED' });
  });

  test('reopening the store reuses the same key', async () => {
    const file = join(dir, 'reopen.db');
    const first = await IdentityTokenSigner.open(openStore('reopen', file).signingKeys, { issuer: ISSUER });
    const token = await first.sign(ALICE, AUDIENCE, TTL);
    const store = openStore('reopen', file);
    const second = await IdentityTokenSigner.open(store.signingKeys, { issuer: ISSUER });
    assert.equal(second.currentKid, first.currentKid);
    assert.equal((await store.signingKeys.list(IDENTITY_KEY_USE, 0)).length, 1, 'no second key was created');
    await verify(token, second);
  });

  test('the cache returns the same token until 80% of the ttl, then a new one', async () => {
    const c = clock();
    const signer = await IdentityTokenSigner.open(openStore('cache').signingKeys, { issuer: ISSUER, now: c.now });
    const first = await signer.sign(ALICE, AUDIENCE, TTL);
    c.advance(TTL * 0.8 - 1);
    assert.equal(await signer.sign(ALICE, AUDIENCE, TTL), first);
    c.advance(1);
    const second = await signer.sign(ALICE, AUDIENCE, TTL);
    assert.notEqual(second, first);
    assert.notEqual(decodeJwt(second).jti, decodeJwt(first).jti);
    assert.equal(await signer.sign(ALICE, AUDIENCE, TTL), second);
    // A principal object that is equal but not the same still hits the cache.
    assert.equal(await signer.sign({ ...ALICE, roles: [...ALICE.roles] }, AUDIENCE, TTL), second);
  });

  test('different principals, audiences or lifetimes get different tokens', async () => {
    const c = clock();
    const signer = await IdentityTokenSigner.open(openStore('distinct').signingKeys, { issuer: ISSUER, now: c.now });
    const alice = await signer.sign(ALICE, AUDIENCE, TTL);
    const bob = await signer.sign(BOB, AUDIENCE, TTL);
    const elsewhere = await signer.sign(ALICE, 'http://127.0.0.1:9001/mcp', TTL);
    const shorter = await signer.sign(ALICE, AUDIENCE, 30_000);
    const fewerScopes = await signer.sign({ ...ALICE, scopes: ['notes:read'] }, AUDIENCE, TTL);
    assert.equal(new Set([alice, bob, elsewhere, shorter, fewerScopes]).size, 5);
    assert.equal((await verify(bob, signer, { at: c.now() })).payload.sub, 'bob');
    assert.equal((await verify(elsewhere, signer, { at: c.now(), audience: 'http://127.0.0.1:9001/mcp' })).payload.sub, 'alice');
  });

  test('a retired key stays published for the window; a new key is created when all are retired', async () => {
    const c = clock();
    const store = openStore('rotate');
    const signer = await IdentityTokenSigner.open(store.signingKeys, { issuer: ISSUER, now: c.now });
    const oldKid = signer.currentKid;
    const oldToken = await signer.sign(ALICE, AUDIENCE, TTL);

    assert.equal(await store.signingKeys.retire(oldKid, c.now()), true);
    await signer.reload();
    const newKid = signer.currentKid;
    assert.notEqual(newKid, oldKid, 'a new key signs');
    assert.deepEqual(signer.jwks().keys.map((k) => k.kid).sort(), [newKid, oldKid].sort(), 'both are published');
    const newToken = await signer.sign(ALICE, AUDIENCE, TTL);
    assert.notEqual(newToken, oldToken, 'the cache does not hand out tokens of the old key');
    assert.equal(decodeProtectedHeader(newToken).kid, newKid);
    await verify(oldToken, signer, { at: c.now() });

    // A second signer on the same store (another gateway process) signs with the same new key.
    const peer = await IdentityTokenSigner.open(store.signingKeys, { issuer: ISSUER, now: c.now });
    assert.equal(peer.currentKid, newKid);

    c.advance(PUBLICATION_WINDOW_MS - 1);
    assert.equal(signer.jwks().keys.length, 2, 'still within the window');
    c.advance(1);
    assert.deepEqual(signer.jwks().keys.map((k) => k.kid), [newKid], 'gone once its tokens cannot be live');
  });

  test('sign follows a rotation made in the store within the reload interval, without an explicit reload', async () => {
    const c = clock();
    const store = openStore('follow');
    const signer = await IdentityTokenSigner.open(store.signingKeys, { issuer: ISSUER, now: c.now });
    const oldKid = signer.currentKid;
    await store.signingKeys.retire(oldKid, c.now());
    assert.equal(decodeProtectedHeader(await signer.sign(ALICE, AUDIENCE, TTL)).kid, oldKid, 'not re-read yet');
    c.advance(60_000);
    await signer.sign(BOB, AUDIENCE, TTL); // starts the reload
    for (let i = 0; i < 100 && signer.currentKid === oldKid; i++) await new Promise((r) => setTimeout(r, 10));
    assert.notEqual(signer.currentKid, oldKid);
    assert.equal(decodeProtectedHeader(await signer.sign(ALICE, AUDIENCE, TTL)).kid, signer.currentKid);
  });

  test('a retirement set in advance: the key signs until then, and never after', async () => {
    const c = clock();
    const store = openStore('scheduled');
    const signer = await IdentityTokenSigner.open(store.signingKeys, { issuer: ISSUER, now: c.now });
    const oldKid = signer.currentKid;
    await store.signingKeys.retire(oldKid, c.now() + 10_000);
    await signer.reload();
    assert.equal(signer.currentKid, oldKid, 'still signs before its retirement');
    const cached = await signer.sign(ALICE, AUDIENCE, TTL);
    c.advance(10_000);
    const after = await signer.sign(ALICE, AUDIENCE, TTL);
    assert.notEqual(after, cached, 'the cached token of the retired key is not handed out');
    assert.notEqual(decodeProtectedHeader(after).kid, oldKid);
    assert.equal(signer.jwks().keys.length, 2);
  });

  test('jwks has public members only, with kid, alg and use', async () => {
    const signer = await IdentityTokenSigner.open(openStore('public').signingKeys, { issuer: ISSUER });
    const [key, ...rest] = signer.jwks().keys;
    assert.equal(rest.length, 0);
    assert.deepEqual(Object.keys(key!).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    assert.deepEqual({ kty: key!.kty, crv: key!.crv, alg: key!.alg, use: key!.use, kid: key!.kid }, { kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: signer.currentKid });
  });

  test('a key another process created at the same time is published after the reload interval, and the newest signs', async () => {
    const c = clock();
    const store = openStore('race');
    const signer = await IdentityTokenSigner.open(store.signingKeys, { issuer: ISSUER, now: c.now });
    const mine = signer.currentKid;
    // What a concurrent start leaves behind: a second active key, newer, that this signer has not read.
    c.advance(1);
    const elsewhere = openStore('race-peer').signingKeys;
    const peer = await IdentityTokenSigner.open(elsewhere, { issuer: ISSUER, now: c.now });
    const [peerKey] = await elsewhere.list(IDENTITY_KEY_USE, 0);
    await store.signingKeys.insert(peerKey!);
    const peerToken = await peer.sign(ALICE, AUDIENCE, TTL);

    assert.deepEqual(signer.jwks().keys.map((k) => k.kid), [mine], 'not re-read yet');
    c.advance(60_000);
    signer.jwks(); // past the interval: starts a reload in the background
    await signer.reload();
    assert.deepEqual(signer.jwks().keys.map((k) => k.kid).sort(), [mine, peer.currentKid].sort(), 'both are published');
    assert.equal(signer.currentKid, peer.currentKid, 'the newest signs');
    await verify(peerToken, signer, { at: c.now() });
  });

  test('sign refuses a missing audience or a nonsensical lifetime', async () => {
    const signer = await IdentityTokenSigner.open(openStore('args').signingKeys, { issuer: ISSUER });
    await assert.rejects(signer.sign(ALICE, '', TTL), RangeError);
    await assert.rejects(signer.sign(ALICE, AUDIENCE, 0), RangeError);
    await assert.rejects(signer.sign(ALICE, AUDIENCE, Number.NaN), RangeError);
  });
});
