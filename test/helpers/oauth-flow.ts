import { createHash, randomBytes } from 'node:crypto';
import { initialize, readAnswer, type HttpAnswer } from './client.js';
import { FormBrowser, OAUTH_AUTHORIZATION, REDIRECT, registerClient, type RegisteredClient } from './oauth.js';
import { recordSecret, type SecretKind } from './secret-sweep.js';

/**
 * The OAuth flow step by step, for tests that drive or attack the embedded authorization server: PKCE pairs,
 * authorization URLs, the token, revocation, introspection and device endpoints, code exchange, sign-in
 * through the real pages up to tokens, the interaction pages one at a time, and a bearer probe of /mcp.
 * (The gateway itself, FormBrowser and registration are in oauth.ts; forged tokens in jwt-forgery.ts.)
 */

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** Every secret a test saw (codes, verifiers, tokens, client secrets), so that a later test can look for it where it must not be. */
export const seenSecrets = new Set<string>();

export function remember(...secrets: (string | undefined)[]): void {
  for (const s of secrets) rememberAs(s?.startsWith('wdn_') ? 'api_key' : s?.split('.').length === 3 ? 'token' : 'opaque', s);
}

/** remember, naming what kind of secret it is (the suite-wide sweep counts them by kind). */
export function rememberAs(kind: SecretKind, ...secrets: (string | undefined)[]): void {
  for (const s of secrets) {
    if (!s) continue;
    seenSecrets.add(s);
    recordSecret(kind, s);
  }
}

/** The scopes of the resource's upstream, from the test authorization config: what a client asks for by default. */
export function scopesOf(resource: string): string {
  const upstream = new URL(resource).pathname.replace(/^\/mcp\//, '');
  return Object.entries(OAUTH_AUTHORIZATION!.scopes ?? {})
    .filter(([, spec]) => (spec as { upstreams?: string[] }).upstreams?.includes(upstream))
    .map(([name]) => name)
    .join(' ');
}

// ---------------------------------------------------------------------------------------------------------
// The authorization request

export interface PkcePair {
  verifier: string;
  challenge: string;
}

/** RFC 7636 S256: a 43-character (256-bit) verifier and its SHA-256 challenge. */
export function pkcePair(): PkcePair {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** /oauth/authorize with exactly these parameters (undefined ones are left out). */
export function authorizeUrl(issuer: string, params: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined) query.set(key, value);
  return `${issuer}/oauth/authorize?${query}`;
}

/** The usual authorization request of a public client: code, S256, state st4te, with `extra` overriding any of them. */
export function codeRequest(issuer: string, clientId: string, pkce: PkcePair, extra: Record<string, string | undefined> = {}): string {
  return authorizeUrl(issuer, {
    client_id: clientId,
    response_type: 'code',
    redirect_uri: REDIRECT,
    scope: 'notes:read',
    code_challenge: pkce.challenge,
    code_challenge_method: 'S256',
    state: 'st4te',
    ...extra,
  });
}

// ---------------------------------------------------------------------------------------------------------
// The endpoints that take a form: token, revocation, introspection, device authorization

export type FormEndpoint = 'token' | 'revoke' | 'introspect' | 'device_authorization';

/** RFC 6749 §2.3.1 client authentication: both parts form-urlencoded before base64. */
export function basicAuth(id: string, secret: string): { authorization: string } {
  return { authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}` };
}

/** POSTs `form` to /oauth/<endpoint>, with `headers` (client authentication: basicAuth). */
export async function postForm(issuer: string, endpoint: FormEndpoint, form: Record<string, string>, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  const res = await fetch(`${issuer}/oauth/${endpoint}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  return readAnswer(res);
}

export function tokenRequest(issuer: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return postForm(issuer, 'token', form, headers);
}

/** What the token endpoint needs to redeem a code. */
export interface CodeGrant {
  clientId: string;
  /** A confidential client authenticates with HTTP Basic; a public one sends client_id. */
  clientSecret?: string;
  code: string;
  pkce: PkcePair;
}

/** The token request for a code (redirect_uri REDIRECT), with `overrides` (undefined leaves a parameter out); remembers the tokens. */
export async function exchangeCode(issuer: string, grant: CodeGrant, overrides: Record<string, string | undefined> = {}): Promise<HttpAnswer> {
  const form: Record<string, string | undefined> = {
    grant_type: 'authorization_code', code: grant.code, redirect_uri: REDIRECT, code_verifier: grant.pkce.verifier,
    ...(grant.clientSecret ? {} : { client_id: grant.clientId }),
    ...overrides,
  };
  const sent = Object.fromEntries(Object.entries(form).filter((e): e is [string, string] => e[1] !== undefined));
  const answer = await tokenRequest(issuer, sent, grant.clientSecret ? basicAuth(grant.clientId, grant.clientSecret) : {});
  rememberAs('token', answer.json?.access_token, answer.json?.refresh_token);
  return answer;
}

/** grant_type=refresh_token for a public client, with `extra` parameters (scope, resource). */
export function refresh(issuer: string, clientId: string, refreshToken: string, extra: Record<string, string> = {}): Promise<HttpAnswer> {
  return tokenRequest(issuer, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId, ...extra });
}

// ---------------------------------------------------------------------------------------------------------
// Sign-in through the real pages, up to a code and tokens

export interface SignInOptions {
  username: string;
  password?: string;
  /** Default: every scope of the resource's upstream (scopesOf); required without a resource. */
  scope?: string;
  resource?: string;
  /** A registered client (with client_secret when confidential); default: a fresh public one. */
  client?: RegisteredClient;
  decision?: 'allow' | 'deny';
}

export interface SignedIn extends CodeGrant {
  /** The redirect back to the client: with code, or with error. */
  callback: URL;
  /** Empty when the redirect carried none. */
  code: string;
  browser: FormBrowser;
}

/** Registers a client (unless given), signs in as `username` through the real pages and answers the consent page; the redirect back. */
export async function signIn(issuer: string, options: SignInOptions): Promise<SignedIn> {
  const client = options.client ?? await registerClient(issuer);
  const clientSecret = typeof client.client_secret === 'string' ? client.client_secret : undefined;
  const scope = options.scope ?? (options.resource ? scopesOf(options.resource) : undefined);
  if (!scope) throw new Error('signIn: name a scope or a resource');
  const pkce = pkcePair();
  const browser = new FormBrowser(issuer);
  const callback = await browser.authorize(codeRequest(issuer, client.client_id, pkce, { scope, resource: options.resource }), REDIRECT, {
    username: options.username,
    ...(options.password ? { password: options.password } : {}),
    ...(options.decision ? { decision: options.decision } : {}),
  });
  const code = callback.searchParams.get('code') ?? '';
  rememberAs('code', code, pkce.verifier);
  rememberAs('client_secret', clientSecret);
  return { clientId: client.client_id, ...(clientSecret ? { clientSecret } : {}), pkce, callback, code, browser };
}

/** signIn, which must come back with a code and the state it sent. */
export async function obtainCode(issuer: string, options: SignInOptions): Promise<SignedIn> {
  const signed = await signIn(issuer, options);
  if (!signed.code) throw new Error(`no code in the redirect: ${signed.callback.href}`);
  if (signed.callback.searchParams.get('state') !== 'st4te') throw new Error(`state was not echoed: ${signed.callback.href}`);
  return signed;
}

export interface ObtainedTokens {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
  /** The client that got them; clientSecret when it is confidential. */
  clientId: string;
  clientSecret?: string;
  /** The sign-in and code they came from. */
  grant: SignedIn;
  [key: string]: unknown;
}

/** obtainCode, then the code exchange (with the resource, when given): a fresh grant for `username`. */
export async function obtainTokens(issuer: string, options: SignInOptions): Promise<ObtainedTokens> {
  const grant = await obtainCode(issuer, options);
  const { status, json } = await exchangeCode(issuer, grant, { resource: options.resource });
  if (status !== 200) throw new Error(`token endpoint answered ${status}: ${JSON.stringify(json)}`);
  return { ...json, clientId: grant.clientId, ...(grant.clientSecret ? { clientSecret: grant.clientSecret } : {}), grant };
}

// ---------------------------------------------------------------------------------------------------------
// The resource side

/** An MCP initialize with the token as bearer: 200 when the resource accepts it, 401 with a message when not. */
export async function probeMcp(url: string, accessToken: string): Promise<{ status: number; message: string; challenge: string }> {
  const res = await initialize(url, accessToken);
  return { status: res.status, message: String(res.json?.error?.message ?? ''), challenge: res.headers.get('www-authenticate') ?? '' };
}

// ---------------------------------------------------------------------------------------------------------
// The interaction pages one at a time

/** The hidden and named inputs of the first form in `html`, and its action. */
export function parseForm(html: string): { action: string | undefined; fields: Record<string, string> } {
  const form = /<form\b[^>]*>[\s\S]*?<\/form>/i.exec(html)?.[0] ?? '';
  const action = /<form\b[^>]*\saction="([^"]*)"/i.exec(form)?.[1]?.replace(/&amp;/g, '&');
  const fields: Record<string, string> = {};
  for (const input of form.match(/<input\b[^>]*>/gi) ?? []) {
    const name = /\sname="([^"]*)"/i.exec(input)?.[1];
    const value = /\svalue="([^"]*)"/i.exec(input)?.[1];
    if (name && value !== undefined) fields[name] = value.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  }
  return { action, fields };
}

export interface InteractionPage {
  /** The interaction page's path, /oauth/interaction/<uid>. */
  url: string;
  uid: string;
  status: number;
  html: string;
  headers: Headers;
  /** The form's action (…/login or …/consent). */
  action: string;
  csrf: string;
}

/** Follows the authorization request to the first interaction page (the sign-in page) and reads its form. */
export async function openInteraction(browser: FormBrowser, authorizationUrl: string): Promise<InteractionPage> {
  const res = await browser.request(authorizationUrl);
  const location = res.headers.get('location');
  if (res.status !== 303 || !location?.includes('/oauth/interaction/')) throw new Error(`expected a redirect to an interaction, got ${res.status} ${location}: ${(await res.text()).slice(0, 300)}`);
  return readInteraction(browser, location);
}

export async function readInteraction(browser: FormBrowser, url: string): Promise<InteractionPage> {
  const page = await browser.request(url);
  const html = await page.text();
  const { action, fields } = parseForm(html);
  const uid = /\/oauth\/interaction\/([^/?]+)/.exec(url)?.[1] ?? '';
  return { url, uid, status: page.status, html, headers: page.headers, action: action ?? '', csrf: fields.csrf ?? '' };
}
