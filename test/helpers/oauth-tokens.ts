import { createHash, createHmac, createPublicKey, randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, decodeJwt, exportJWK, generateKeyPair, importJWK, type JWK, type JWTPayload } from 'jose';
import { SqliteStore } from '../../src/store/index.js';
import { ACCESS_TOKEN_KEY_USE } from '../../src/authorization-server/keys.js';
import { INITIALIZE, postRaw } from './client.js';
import { FormBrowser, OAUTH_AUTHORIZATION, registerClient, type OAuthSetup } from './oauth.js';

/**
 * Tokens through the real authorization code flow (registration, PKCE S256, sign-in and consent pages,
 * token endpoint), forged tokens signed with the gateway's real key or an attacker's, and raw MCP calls that
 * show what the resource side does with them.
 */

export const REDIRECT = 'http://127.0.0.1:9999/callback';

export interface ObtainedTokens {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
  client_id: string;
  /** Set when the client is confidential. */
  client_secret?: string;
  code: string;
  code_verifier: string;
  redirect_uri: string;
  resource: string;
  browser: FormBrowser;
}

/** Every secret a test saw, so that a later test can look for it where it must not be. */
export const seenSecrets = new Set<string>();

export function remember(...secrets: (string | undefined)[]): void {
  for (const s of secrets) if (s) seenSecrets.add(s);
}

/** The scopes of the resource's upstream, from the test authorization config: what a client asks for by default. */
export function scopesOf(resource: string): string {
  const upstream = new URL(resource).pathname.replace(/^\/mcp\//, '');
  return Object.entries(OAUTH_AUTHORIZATION!.scopes ?? {})
    .filter(([, spec]) => (spec as { upstreams?: string[] }).upstreams?.includes(upstream))
    .map(([name]) => name)
    .join(' ');
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(48).toString('base64url'); // 64 chars, within RFC 7636's 43..128
  return { verifier, challenge: createHash('sha256').update(verifier, 'ascii').digest('base64url') };
}

export async function tokenRequest(issuer: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(`${issuer}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = { text };
  }
  return { status: res.status, json };
}

export interface AuthorizationCode {
  code: string;
  code_verifier: string;
  client_id: string;
  client_secret?: string;
  browser: FormBrowser;
}

/**
 * Register (unless `client` is given) → authorization URL built by hand (PKCE S256, resource, scope, state) →
 * sign-in and consent pages → the code on the redirect back.
 */
export async function getCode(
  setup: OAuthSetup,
  options: { username: string; resource: string; scope?: string; client?: { client_id: string; client_secret?: unknown }; password?: string },
): Promise<AuthorizationCode> {
  const client = options.client ?? await registerClient(setup.issuer, { redirect_uris: [REDIRECT] });
  const clientSecret = typeof client.client_secret === 'string' ? client.client_secret : undefined;
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(16).toString('base64url');
  const scope = options.scope ?? scopesOf(options.resource);
  const url = new URL(`${setup.issuer}/oauth/authorize`);
  for (const [k, v] of Object.entries({
    response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, scope, state,
    code_challenge: challenge, code_challenge_method: 'S256', resource: options.resource,
  })) url.searchParams.set(k, v);
  const browser = new FormBrowser(setup.issuer);
  const callback = await browser.authorize(url.href, REDIRECT, { username: options.username, ...(options.password ? { password: options.password } : {}) });
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code in the redirect: ${callback.href}`);
  if (callback.searchParams.get('state') !== state) throw new Error(`state was not echoed: ${callback.href}`);
  remember(code, verifier, clientSecret);
  return { code, code_verifier: verifier, client_id: client.client_id, ...(clientSecret ? { client_secret: clientSecret } : {}), browser };
}

/** The token request for a code: public clients send client_id, confidential ones HTTP Basic. */
export async function exchangeCode(setup: OAuthSetup, grant: AuthorizationCode, overrides: Record<string, string | undefined> = {}): Promise<{ status: number; json: any }> {
  const form: Record<string, string | undefined> = {
    grant_type: 'authorization_code', code: grant.code, redirect_uri: REDIRECT, code_verifier: grant.code_verifier,
    ...(grant.client_secret ? {} : { client_id: grant.client_id }),
    ...overrides,
  };
  const headers: Record<string, string> = grant.client_secret ? { authorization: basicAuth(grant.client_id, grant.client_secret) } : {};
  const result = await tokenRequest(setup.issuer, Object.fromEntries(Object.entries(form).filter((e): e is [string, string] => e[1] !== undefined)), headers);
  remember(result.json?.access_token, result.json?.refresh_token);
  return result;
}

/** getCode, then POST /oauth/token (grant_type=authorization_code, code, redirect_uri, client_id, code_verifier, resource). */
export async function getTokens(
  setup: OAuthSetup,
  options: { username: string; resource: string; scope?: string; client?: { client_id: string; client_secret?: unknown }; password?: string },
): Promise<ObtainedTokens> {
  const grant = await getCode(setup, options);
  const { status, json } = await exchangeCode(setup, grant, { resource: options.resource });
  if (status !== 200) throw new Error(`token endpoint answered ${status}: ${JSON.stringify(json)}`);
  return {
    ...json, client_id: grant.client_id, ...(grant.client_secret ? { client_secret: grant.client_secret } : {}),
    code: grant.code, code_verifier: grant.code_verifier, redirect_uri: REDIRECT, resource: options.resource, browser: grant.browser,
  };
}

export function basicAuth(id: string, secret: string): string {
  // RFC 6749 §2.3.1: both parts form-urlencoded before base64.
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** POST to /oauth/revoke or /oauth/introspect, as a form. */
export async function tokenEndpointPost(setup: OAuthSetup, endpoint: 'revoke' | 'introspect', form: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; json: any; text: string; headers: Headers }> {
  const res = await fetch(`${setup.issuer}/oauth/${endpoint}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

// ---------------------------------------------------------------------------------------------------------
// MCP over raw HTTP

export interface McpAnswer {
  status: number;
  headers: Headers;
  json: any;
  text: string;
}

/** A JSON body or the last `data:` line of an SSE body. */
export function mcpBody(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    const data = text.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).filter(Boolean);
    try {
      return data.length ? JSON.parse(data[data.length - 1]!) : undefined;
    } catch {
      return undefined;
    }
  }
}

/** A raw `initialize`; `marker` becomes the clientInfo name, so that an upstream's log can be searched for it. */
export async function initialize(url: string, token: string | undefined, marker = 'raw'): Promise<McpAnswer> {
  const body = { ...INITIALIZE, params: { ...INITIALIZE.params, clientInfo: { name: marker, version: '1' } } };
  const res = await postRaw(url, JSON.stringify(body), token === undefined ? {} : { authorization: `Bearer ${token}` });
  return { ...res, json: res.json ?? mcpBody(res.text) };
}

/** initialize, notifications/initialized, then tools/call, all with the token; the tools/call answer. */
export async function callTool(url: string, token: string, name: string, args: Record<string, unknown> = {}): Promise<McpAnswer & { init: McpAnswer }> {
  const init = await initialize(url, token);
  if (init.status !== 200) return { ...init, init };
  const session = init.headers.get('mcp-session-id');
  const headers: Record<string, string> = {
    authorization: `Bearer ${token}`, 'mcp-protocol-version': '2025-06-18', ...(session ? { 'mcp-session-id': session } : {}),
  };
  await postRaw(url, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), headers);
  const res = await postRaw(url, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name, arguments: args } }), headers);
  return { ...res, json: res.json ?? mcpBody(res.text), init };
}

// ---------------------------------------------------------------------------------------------------------
// Forgery

export interface RealKey {
  kid: string;
  alg: string;
  privateJwk: JWK;
  publicJwk: JWK;
}

/** The access-token signing key, read from the store file as an attacker with the file (or a test) would. */
export async function readSigningKey(dbPath: string): Promise<RealKey> {
  const store = new SqliteStore(dbPath);
  try {
    const [record] = await store.signingKeys.list(ACCESS_TOKEN_KEY_USE, 0);
    if (!record) throw new Error('no access-token signing key in the store');
    return { kid: record.kid, alg: record.alg, privateJwk: JSON.parse(record.privateJwk) as JWK, publicJwk: JSON.parse(record.publicJwk) as JWK };
  } finally {
    await store.close();
  }
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

/** Signs `claims` with an ES256 private JWK; the header defaults to what the issuer writes (`typ: at+jwt`, the key's kid). */
export async function signWith(privateJwk: JWK, claims: JWTPayload, header: Record<string, unknown>): Promise<string> {
  const key = await importJWK(privateJwk, 'ES256');
  const token = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', ...header } as never).sign(key);
  remember(token);
  return token;
}

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

// ---------------------------------------------------------------------------------------------------------
// Waiting for asynchronous effects (audit records are committed on the next turn of the event loop)

export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Opens a second connection to the gateway's store (as the CLI would), runs `fn`, closes it. */
export async function withStore<T>(dbPath: string, fn: (store: SqliteStore) => Promise<T>): Promise<T> {
  const store = new SqliteStore(dbPath);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
