import { createHmac, createPublicKey, randomUUID } from 'node:crypto';
import { SignJWT, decodeJwt, exportJWK, generateKeyPair, importJWK, type JWK, type JWTPayload } from 'jose';
import { ACCESS_TOKEN_KEY_USE } from '../../src/authorization-server/keys.js';
import { withStore } from './oauth.js';
import { remember } from './oauth-flow.js';

/**
 * Forged access tokens for attacks on the resource side: signed with the gateway's real key (read from the
 * store file) or an attacker's, unsecured (alg none), or HS256 keyed with the public key. Every token made here
 * is remembered (oauth-flow's seenSecrets), so that the no-leak test looks for it too.
 */

export interface RealKey {
  kid: string;
  alg: string;
  privateJwk: JWK;
  publicJwk: JWK;
}

/** The access-token signing key, read from the store file as an attacker with the file (or a test) would. */
export async function readSigningKey(dbPath: string): Promise<RealKey> {
  return withStore(dbPath, async (store) => {
    const [record] = await store.signingKeys.list(ACCESS_TOKEN_KEY_USE, 0);
    if (!record) throw new Error('no access-token signing key in the store');
    return { kid: record.kid, alg: record.alg, privateJwk: JSON.parse(record.privateJwk) as JWK, publicJwk: JSON.parse(record.publicJwk) as JWK };
  });
}

/** Claims like a real token's (taken from one), with a fresh jti and lifetime, then `overrides` (undefined deletes). */
export function claimsLike(real: string, overrides: Record<string, unknown> = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { ...decodeJwt(real), jti: randomUUID(), iat: now, exp: now + 300 };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete claims[k];
    else claims[k] = v;
  }
  return claims as JWTPayload;
}

/** Signs `claims` with an ES256 private JWK under exactly `header` (plus alg). */
export async function signWith(privateJwk: JWK, claims: JWTPayload, header: Record<string, unknown>): Promise<string> {
  const key = await importJWK(privateJwk, 'ES256');
  const token = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', ...header } as never).sign(key);
  remember(token);
  return token;
}

/** Signs with the gateway's own key; the header defaults to what the issuer writes (`typ: at+jwt`, the key's kid). */
export async function forgeWithRealKey(key: RealKey, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return signWith(key.privateJwk, claims, { kid: key.kid, typ: 'at+jwt', ...header });
}

export async function attackerKey(): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { privateJwk: await exportJWK(privateKey), publicJwk: await exportJWK(publicKey) };
}

const b64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** An unsecured JWT (RFC 7519 §6): `alg: none` and an empty signature. */
export function unsecuredJwt(claims: JWTPayload, header: Record<string, unknown> = {}): string {
  const token = `${b64url({ alg: 'none', typ: 'at+jwt', ...header })}.${b64url(claims)}.`;
  remember(token);
  return token;
}

/** HS256 keyed with `secret` (the algorithm-confusion attack: the public key's bytes as the HMAC key). */
export function hmacJwt(claims: JWTPayload, header: Record<string, unknown>, secret: string | Buffer): string {
  const input = `${b64url({ alg: 'HS256', typ: 'at+jwt', ...header })}.${b64url(claims)}`;
  const token = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  remember(token);
  return token;
}

/** Every form of the public key an HS256 confusion attack would try as the HMAC secret. */
export function publicKeyAsSecrets(publicJwk: JWK): { name: string; secret: string | Buffer }[] {
  const key = createPublicKey({ key: publicJwk as never, format: 'jwk' });
  const pem = key.export({ type: 'spki', format: 'pem' }) as string;
  const der = key.export({ type: 'spki', format: 'der' });
  const { kty, crv, x, y } = publicJwk;
  return [
    { name: 'the public JWK as JSON', secret: JSON.stringify(publicJwk) },
    { name: 'the RFC 7638 members as JSON', secret: JSON.stringify({ crv, kty, x, y }) },
    { name: 'the SPKI PEM', secret: pem },
    { name: 'the SPKI DER', secret: der },
  ];
}
