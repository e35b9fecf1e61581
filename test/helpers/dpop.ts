import { createHash, randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { INITIALIZE, mcpBody, parseJson, readAnswer, sweepAnswer, type HttpAnswer } from './client.js';
import { rememberAs } from './oauth-flow.js';

/**
 * The client side of DPoP (RFC 9449), written with jose because the MCP SDK has none: a key pair, proofs for
 * a request (with any claim or header made wrong on purpose), and a `fetch` that turns an SDK client's
 * `Authorization: Bearer` into `DPoP` with a proof on every request and answers nonce challenges.
 */

export class DpopKey {
  private constructor(readonly privateKey: CryptoKey, readonly publicJwk: JWK, readonly thumbprint: string, readonly alg: string) {}

  static async create(alg: 'ES256' | 'EdDSA' | 'RS256' | 'PS256' = 'ES256'): Promise<DpopKey> {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    return new DpopKey(privateKey, publicJwk, await calculateJwkThumbprint(publicJwk, 'sha256'), alg);
  }

  /** The private JWK (for the attack that embeds it). */
  async privateJwk(): Promise<JWK> {
    return exportJWK(this.privateKey);
  }

  /** A proof for `htm` `htu` (and the access token, as `ath`), with `claims` and `header` overriding (undefined deletes). */
  async proof(htm: string, htu: string, options: { accessToken?: string; nonce?: string; claims?: Record<string, unknown>; header?: Record<string, unknown> } = {}): Promise<string> {
    const payload: Record<string, unknown> = {
      jti: randomUUID(), htm, htu, iat: Math.floor(Date.now() / 1000),
      ...(options.accessToken ? { ath: ath(options.accessToken) } : {}),
      ...(options.nonce ? { nonce: options.nonce } : {}),
    };
    for (const [k, v] of Object.entries(options.claims ?? {})) {
      if (v === undefined) delete payload[k];
      else payload[k] = v;
    }
    const header = { alg: this.alg, typ: 'dpop+jwt', jwk: this.publicJwk, ...options.header };
    const proof = await new SignJWT(payload as JWTPayload).setProtectedHeader(header as never).sign(this.privateKey);
    rememberAs('token', proof);
    return proof;
  }
}

export function ath(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('base64url');
}

/** An MCP initialize with `Authorization: <scheme> <token>` and the given DPoP header values (each sent as its own header line). */
export function initializeWith(url: string, scheme: 'DPoP' | 'Bearer', token: string, proofs: string[]): Promise<HttpAnswer> {
  const target = new URL(url);
  const body = JSON.stringify(INITIALIZE);
  return new Promise((resolve, reject) => {
    const req = request({
      host: target.hostname, port: target.port, path: target.pathname, method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `${scheme} ${token}` },
    }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
        const json = parseJson(text) ?? mcpBody(text);
        sweepAnswer(res.statusCode!, text, json);
        resolve({ status: res.statusCode!, headers, text, json });
      });
    });
    // One header line per proof: setHeader with an array, so that two are really two (fetch would join them).
    if (proofs.length > 0) req.setHeader('DPoP', proofs.length === 1 ? proofs[0]! : proofs);
    req.on('error', reject);
    req.end(body);
  });
}

/** A token request (form) with a DPoP proof for the token endpoint. */
export async function dpopTokenRequest(issuer: string, key: DpopKey | undefined, form: Record<string, string>, nonce?: string): Promise<HttpAnswer> {
  const url = `${issuer}/oauth/token`;
  const proof = key ? await key.proof('POST', url, nonce ? { nonce } : {}) : undefined;
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(proof ? { dpop: proof } : {}) },
    body: new URLSearchParams(form).toString(),
  });
  const answer = await readAnswer(res);
  rememberAs('token', answer.json?.access_token, answer.json?.refresh_token);
  return answer;
}

/**
 * A `fetch` for an MCP SDK client: every request gets a proof for its method and URL; `Authorization: Bearer`
 * becomes `DPoP` with the token's hash in the proof; a `DPoP-Nonce` the server sends is used from then on, and
 * a request refused with `use_dpop_nonce` is sent once more with it. `log` records each request's scheme and status.
 */
export function dpopFetch(key: DpopKey, log: { url: string; scheme: string; status: number }[] = []): typeof fetch {
  const nonces = new Map<string, string>();
  const send = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : input.toString());
    const method = (init.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    const bearer = /^Bearer (.+)$/i.exec(headers.get('authorization') ?? '')?.[1];
    if (bearer) headers.set('authorization', `DPoP ${bearer}`);
    const nonce = nonces.get(url.origin);
    headers.set('dpop', await key.proof(method, `${url.origin}${url.pathname}`, { ...(bearer ? { accessToken: bearer } : {}), ...(nonce ? { nonce } : {}) }));
    const res = await fetch(input instanceof Request ? input.url : input, { ...init, method, headers });
    log.push({ url: url.pathname, scheme: bearer ? 'DPoP' : '-', status: res.status });
    const fresh = res.headers.get('dpop-nonce');
    if (fresh) nonces.set(url.origin, fresh);
    return res;
  };
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const res = await send(input, init);
    if ((res.status === 401 || res.status === 400) && res.headers.get('dpop-nonce') && await asksForNonce(res.clone())) return send(input, init);
    return res;
  }) as typeof fetch;
}

async function asksForNonce(res: Response): Promise<boolean> {
  if (/error="use_dpop_nonce"/.test(res.headers.get('www-authenticate') ?? '')) return true;
  try {
    return ((await res.json()) as { error?: string }).error === 'use_dpop_nonce';
  } catch {
    return false;
  }
}
