import { createHash, randomBytes } from 'node:crypto';
import { FormBrowser, registerClient } from './oauth.js';
import { INITIALIZE, postRaw } from './client.js';

/**
 * Raw OAuth building blocks for tests that attack the embedded authorization server: PKCE pairs,
 * authorization URLs, token requests, the interaction pages step by step, and a bearer probe of /mcp.
 */

/** What registerClient registers by default. */
export const REDIRECT = 'http://127.0.0.1:9999/callback';

export interface PkcePair {
  verifier: string;
  challenge: string;
}

/** RFC 7636 S256: a 43-character verifier and its SHA-256 challenge. */
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

/** The usual authorization request of a public client: code, S256, state, with `extra` overriding any of them. */
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

export interface JsonAnswer {
  status: number;
  headers: Headers;
  json: any;
}

/** POSTs a form to an endpoint of the AS (token, device_authorization, introspect), optionally with HTTP Basic client auth. */
export async function postForm(url: string, form: Record<string, string>, basic?: { id: string; secret: string }): Promise<JsonAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (basic) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(basic.id)}:${encodeURIComponent(basic.secret)}`).toString('base64')}`;
  const res = await fetch(url, { method: 'POST', headers, body: new URLSearchParams(form).toString() });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = { raw: text };
  }
  return { status: res.status, headers: res.headers, json };
}

export function tokenRequest(issuer: string, form: Record<string, string>, basic?: { id: string; secret: string }): Promise<JsonAnswer> {
  return postForm(`${issuer}/oauth/token`, form, basic);
}

export function exchangeCode(issuer: string, clientId: string, code: string, verifier: string, redirectUri = REDIRECT): Promise<JsonAnswer> {
  return tokenRequest(issuer, { grant_type: 'authorization_code', client_id: clientId, code, code_verifier: verifier, redirect_uri: redirectUri });
}

export function refresh(issuer: string, clientId: string, refreshToken: string): Promise<JsonAnswer> {
  return tokenRequest(issuer, { grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken });
}

export interface SignedIn {
  clientId: string;
  pkce: PkcePair;
  callback: URL;
  code: string;
  browser: FormBrowser;
}

/** Registers a client (unless given), signs in as `username` through the real pages, and returns the code. */
export async function signIn(issuer: string, options: { username: string; scope?: string; resource?: string; clientId?: string; decision?: 'allow' | 'deny' }): Promise<SignedIn> {
  const clientId = options.clientId ?? (await registerClient(issuer)).client_id;
  const pkce = pkcePair();
  const browser = new FormBrowser(issuer);
  const url = codeRequest(issuer, clientId, pkce, { scope: options.scope ?? 'notes:read', resource: options.resource });
  const callback = await browser.authorize(url, REDIRECT, { username: options.username, ...(options.decision ? { decision: options.decision } : {}) });
  return { clientId, pkce, callback, code: callback.searchParams.get('code') ?? '', browser };
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  scope?: string;
  [key: string]: unknown;
}

/** Sign-in and code exchange: a fresh grant for `username`. */
export async function obtainTokens(issuer: string, options: { username: string; scope?: string; resource?: string; clientId?: string }): Promise<{ clientId: string; tokens: Tokens }> {
  const signed = await signIn(issuer, options);
  if (!signed.code) throw new Error(`no code: ${signed.callback.href}`);
  const answer = await exchangeCode(issuer, signed.clientId, signed.code, signed.pkce.verifier);
  if (answer.status !== 200) throw new Error(`token exchange failed: ${answer.status} ${JSON.stringify(answer.json)}`);
  return { clientId: signed.clientId, tokens: answer.json as Tokens };
}

/** An MCP initialize with the token as bearer: 200 when the resource accepts it, 401 with a message when not. */
export async function probeMcp(url: string, accessToken: string): Promise<{ status: number; message: string; challenge: string }> {
  const res = await postRaw(url, JSON.stringify(INITIALIZE), { authorization: `Bearer ${accessToken}` });
  return { status: res.status, message: String(res.json?.error?.message ?? ''), challenge: res.headers.get('www-authenticate') ?? '' };
}

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
