/**
 * OAuth helpers for bench/oauth.ts: the warden CLI with JSON output, a dynamic registration, the real
 * authorization-code flow (PKCE, sign-in and consent pages, as test/helpers/oauth.ts FormBrowser does, cut
 * to the minimum), token requests over an undici Pool, and a closed-loop runner whose workers keep state
 * (a refresh-token chain each).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Pool } from 'undici';
import { startNode } from './children.js';
import { loadResult, type LoadResult } from './load.js';

export const REDIRECT = 'http://127.0.0.1:9999/callback';

export interface TokenAnswer {
  access_token: string;
  refresh_token?: string;
  token_type: string;
  expires_in: number;
  scope?: string;
}

/** Runs `node <gatewayEntry> <args> --json` and parses what it printed on stdout. */
export async function wardenJson<T>(gatewayEntry: string, args: string[]): Promise<T> {
  const child = startNode(`warden ${args.slice(0, 2).join(' ')}`, [gatewayEntry, ...args, '--json'], { stdout: 'lines' });
  const code = await child.exited;
  // The exit event can come before the last stdout line was read.
  await new Promise((r) => setTimeout(r, 50));
  if (code !== 0) throw new Error(`warden ${args.join(' ')} exited ${code}: ${child.stdoutLines.join('\n').slice(0, 500)}`);
  return JSON.parse(child.stdoutLines.join('\n')) as T;
}

export function basicAuth(id: string, secret: string): string {
  // RFC 6749 §2.3.1: both parts form-urlencoded before base64.
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** RFC 7591 registration of a public client (no secret, PKCE), as MCP clients do. */
export async function registerPublicClient(issuer: string): Promise<string> {
  const res = await fetch(`${issuer}/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: [REDIRECT], client_name: 'bench', token_endpoint_auth_method: 'none' }),
  });
  const body = (await res.json()) as { client_id?: string };
  if (res.status !== 201 || !body.client_id) throw new Error(`registration failed: ${res.status} ${JSON.stringify(body)}`);
  return body.client_id;
}

/**
 * A fresh grant: authorization request (PKCE S256, resource, scope), sign-in and consent pages in a new
 * cookie jar (so a new session and a new grant every time), then the code exchange.
 */
export async function authorizationCodeGrant(
  issuer: string,
  o: { clientId: string; username: string; password: string; resource: string; scope: string },
): Promise<TokenAnswer> {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const query = new URLSearchParams({
    response_type: 'code', client_id: o.clientId, redirect_uri: REDIRECT, scope: o.scope, state: 'bench',
    code_challenge: challenge, code_challenge_method: 'S256', resource: o.resource,
  });
  const cookies = new Map<string, string>();
  let next: { url: string; form?: Record<string, string> } = { url: `${issuer}/oauth/authorize?${query}` };
  for (let hop = 0; hop < 20; hop++) {
    const res = await fetch(next.url, {
      method: next.form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: {
        cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(next.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(next.form ? { body: new URLSearchParams(next.form).toString() } : {}),
    });
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(';')[0]!;
      const eq = pair.indexOf('=');
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) cookies.delete(pair.slice(0, eq).trim());
      else cookies.set(pair.slice(0, eq).trim(), value);
    }
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      const target = new URL(location, next.url);
      if (target.href.startsWith(REDIRECT)) {
        const code = target.searchParams.get('code');
        if (!code) throw new Error(`no code in the redirect: ${target.href}`);
        const answer = await fetch(`${issuer}/oauth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, client_id: o.clientId, resource: o.resource }).toString(),
        });
        const json = (await answer.json()) as TokenAnswer;
        if (answer.status !== 200 || !json.refresh_token) throw new Error(`code exchange answered ${answer.status}: ${JSON.stringify(json)}`);
        return json;
      }
      next = { url: target.href };
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`page ${next.url} answered ${res.status}: ${html.slice(0, 300)}`);
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1]?.replace(/&amp;/g, '&');
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
    if (!action || !csrf) throw new Error(`no form on ${next.url}: ${html.slice(0, 300)}`);
    const url = new URL(action, next.url).href;
    next = action.endsWith('/login') ? { url, form: { csrf, username: o.username, password: o.password } } : { url, form: { csrf, decision: 'allow' } };
  }
  throw new Error('too many redirects');
}

/** POST /oauth/token as a form: the answer, or an error description. */
export async function tokenRequest(pool: Pool, form: Record<string, string>, headers: Record<string, string> = {}): Promise<{ ok: TokenAnswer } | { error: string }> {
  const res = await pool.request({
    path: '/oauth/token',
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) return { error: `HTTP ${res.statusCode}: ${text.slice(0, 200)}` };
  const json = JSON.parse(text) as TokenAnswer;
  return json.access_token ? { ok: json } : { error: `no access_token: ${text.slice(0, 200)}` };
}

/**
 * Closed loop like runLoad, but each of the `concurrency` workers has an index, so that it can keep its own
 * state (its refresh-token chain). `op` returns an error description or undefined.
 */
export async function runWorkers(concurrency: number, durationMs: number, op: (worker: number) => Promise<string | undefined>): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + durationMs;
  const worker = async (index: number) => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      let problem: string | undefined;
      try {
        problem = await op(index);
      } catch (err) {
        problem = (err as Error).message;
      }
      if (problem === undefined) latencies.push(performance.now() - t0);
      else {
        errors++;
        firstError ??= problem;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
  return loadResult(latencies, errors, firstError, performance.now() - started);
}

/** The payload of a JWT, unverified (to show what the gateway issued). */
export function jwtClaims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}
