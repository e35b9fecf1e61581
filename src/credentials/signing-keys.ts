import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { StoreError, type SigningKeyRecord, type SigningKeyStore } from '../store/types.js';

/** Every key the gateway signs with is ES256: small signatures, fast verification, supported by every JOSE library. */
export const SIGNING_ALG = 'ES256';

/** A new ES256 key pair as a store record; the kid is its RFC 7638 thumbprint. */
export async function generateSigningKey(use: string, now: number): Promise<SigningKeyRecord> {
  // extractable: the private key has to be exported to be kept in the store.
  const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const privateJwk = await exportJWK(privateKey);
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return { kid, use, alg: SIGNING_ALG, privateJwk: JSON.stringify(privateJwk), publicJwk: JSON.stringify(publicJwk), createdAt: now, retiredAt: null };
}

/** The members of a JWK that are public for every key type; anything else (d, p, q, …) is never published. */
const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e'] as const;

/** Public members plus kid, alg and use: what a JWKS publishes. */
export function publicJwkOf(record: SigningKeyRecord): Record<string, unknown> {
  const jwk = parseJwk(record, record.publicJwk);
  const publicJwk: Record<string, unknown> = {};
  for (const m of PUBLIC_MEMBERS) if (jwk[m] !== undefined) publicJwk[m] = jwk[m];
  publicJwk.kid = record.kid;
  publicJwk.alg = record.alg;
  publicJwk.use = 'sig';
  return publicJwk;
}

export function parseJwk(record: SigningKeyRecord, json: string): JWK {
  try {
    const jwk = JSON.parse(json) as unknown;
    if (typeof jwk === 'object' && jwk !== null && !Array.isArray(jwk)) return jwk as JWK;
  } catch {
    // reported below
  }
  throw new StoreError('corrupt', `signing key ${record.kid} in the store is not a JWK`);
}

/**
 * `warden keys rotate-signing`: a new key of `use` signs from now on; the keys it replaces stop signing now
 * and stay published (their `retiredAt` plus the longest token lifetime), so tokens they signed still verify.
 * Returns the new kid and the retired ones.
 */
export async function rotateSigningKey(store: SigningKeyStore, use: string, now = Date.now()): Promise<{ kid: string; retired: string[] }> {
  const current = (await store.list(use, now)).filter((k) => k.retiredAt === null || k.retiredAt > now);
  const next = await generateSigningKey(use, now);
  await store.insert(next);
  for (const k of current) await store.retire(k.kid, now);
  return { kid: next.kid, retired: current.map((k) => k.kid) };
}
