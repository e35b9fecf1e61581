import { randomBytes, randomUUID } from 'node:crypto';
import type { JWK } from 'jose';
import { generateSigningKey, parseJwk, publicJwkOf } from '../credentials/index.js';
import { StoreError, type SigningKeyRecord, type SigningKeyStore } from '../store/index.js';

/** What signs access tokens. Kept apart from the upstream-identity keys so that each rotates on its own. */
export const ACCESS_TOKEN_KEY_USE = 'oauth-access-token';
/** The HMAC keys of the authorization server's cookies (sessions, interactions). */
export const COOKIE_KEY_USE = 'oauth-cookie';

export interface AuthorizationServerKeys {
  /** Private JWKs for oidc-provider: the key that signs first, then retired keys still published. */
  signing: JWK[];
  /** Public JWKs of the same keys, for verifying access tokens in `resource/`. */
  verification: Record<string, unknown>[];
  cookieKeys: string[];
  /** Changes whenever the key set does: the gateway rebuilds the provider then. */
  fingerprint: string;
}

const signs = (k: SigningKeyRecord, now: number) => k.retiredAt === null || k.retiredAt > now;

/**
 * The authorization server's keys from the store, creating the first ones. A retired signing key stays
 * published for `publishForMs` (the access-token lifetime), so tokens it signed verify until they expire.
 */
export async function loadAuthorizationServerKeys(store: SigningKeyStore, publishForMs: number, now = Date.now()): Promise<AuthorizationServerKeys> {
  let signingRecords = await store.list(ACCESS_TOKEN_KEY_USE, now - publishForMs);
  if (!signingRecords.some((k) => signs(k, now))) {
    // insertIfNoneActive: of several instances starting at once on an empty store, one creates the key.
    await store.insertIfNoneActive(await generateSigningKey(ACCESS_TOKEN_KEY_USE, now), now);
    signingRecords = await store.list(ACCESS_TOKEN_KEY_USE, now - publishForMs);
  }
  let cookieRecords = await store.list(COOKIE_KEY_USE, now);
  if (cookieRecords.length === 0) {
    await store.insertIfNoneActive(cookieKeyRecord(now), now);
    cookieRecords = await store.list(COOKIE_KEY_USE, now);
  }
  // Newest active key first: oidc-provider signs with the first key that fits.
  const ordered = [...signingRecords.filter((k) => signs(k, now)), ...signingRecords.filter((k) => !signs(k, now))];
  const signing = ordered.map((k) => {
    const jwk = parseJwk(k, k.privateJwk);
    if (jwk.d === undefined) throw new StoreError('corrupt', `signing key ${k.kid} in the store has no private part`);
    return { ...jwk, kid: k.kid, alg: k.alg, use: 'sig' };
  });
  const cookieKeys = cookieRecords.map((k) => parseJwk(k, k.privateJwk).k).filter((k): k is string => typeof k === 'string');
  return {
    signing,
    verification: ordered.map(publicJwkOf),
    cookieKeys,
    fingerprint: [...ordered.map((k) => k.kid), '|', ...cookieRecords.map((k) => k.kid)].join(','),
  };
}

function cookieKeyRecord(now: number): SigningKeyRecord {
  const jwk = JSON.stringify({ kty: 'oct', k: randomBytes(32).toString('base64url') });
  return { kid: randomUUID(), use: COOKIE_KEY_USE, alg: 'HS256', privateJwk: jwk, publicJwk: '{}', createdAt: now, retiredAt: null };
}
