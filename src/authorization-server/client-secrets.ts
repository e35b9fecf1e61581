import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Client secrets are stored as a SHA-256 digest, like API keys: they are 256-bit random values, so a fast
 * hash cannot be brute-forced, and a copied store file yields no usable secret. The prefix tells a digest
 * from a secret stored by an older version or handed over by oidc-provider before it is saved.
 */
export const HASHED_SECRET_PREFIX = 'sha256:';

export function hashClientSecret(secret: string): string {
  return `${HASHED_SECRET_PREFIX}${createHash('sha256').update(secret, 'utf8').digest('base64url')}`;
}

export function isHashedClientSecret(value: string): boolean {
  return value.startsWith(HASHED_SECRET_PREFIX);
}

/** A new client secret: 256 bits, base64url. */
export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Constant-time check of a presented secret against what is stored (a digest, or a plain secret). */
export function clientSecretMatches(stored: string, presented: string): boolean {
  const expected = Buffer.from(isHashedClientSecret(stored) ? stored : hashClientSecret(stored));
  const actual = Buffer.from(hashClientSecret(presented));
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
