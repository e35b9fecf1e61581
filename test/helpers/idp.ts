import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import Provider, { type Configuration } from 'oidc-provider';
import { SignJWT, exportJWK, generateKeyPair, importJWK, type JWK, type JWTPayload } from 'jose';
import { remember } from './oauth-flow.js';

/**
 * A company IdP for tests: a real oidc-provider instance of its own, over HTTP, with discovery, a JWKS
 * (RS256, rotatable), client credentials, the code flow (its development login form: any username signs in,
 * unless disabled), introspection of opaque tokens, and resource indicators so its access tokens name the
 * gateway's resource URL as their audience. `sign` mints tokens with its private key, for the refusal cases
 * a real IdP would never produce (expired, wrong audience...).
 */

export interface IdpKey {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
}

export const IDP_SERVICE = { id: 'svc-agent', secret: 'svc-agent-secret-0123456789abcdef' };
export const IDP_APP = { id: 'warden-app', secret: 'warden-app-secret-0123456789abcdef', redirect: 'http://127.0.0.1:9999/idp-callback' };
/** The gateway's client for company sign-in (sso); its redirect URI is given to startIdp. */
export const IDP_SSO = { id: 'warden-sso', secret: 'warden-sso-secret-0123456789abcdef' };
export const IDP_INTROSPECTOR = { id: 'warden-introspect', secret: 'warden-introspect-secret-0123456789' };

export interface TestIdp {
  issuer: string;
  /** Signing keys, the first signs; all are published. */
  keys: IdpKey[];
  /** Subject (username or client id) -> the groups its tokens carry. */
  groups: Map<string, string[]>;
  /** Users the IdP refuses (findAccount answers nothing). */
  disabled: Set<string>;
  /** Access token format for the next tokens. */
  format: 'jwt' | 'opaque';
  /** How many times the JWKS was fetched. */
  jwksFetches(): number;
  /** A client-credentials access token of IDP_SERVICE for `resource`. */
  /** A client-credentials access token of the IdP's service client; with `dpop` (a proof for its token endpoint), a DPoP-bound one. */
  serviceToken(resource: string, dpop?: string): Promise<string>;
  /** The code flow for `username` through the development login form; the token endpoint's answer. */
  codeFlow(username: string, options?: { resource?: string; scope?: string }): Promise<{ id_token: string; access_token: string; [k: string]: unknown }>;
  /** A token signed with the current key (or `key`), as this IdP would sign it: typ at+jwt, its kid. */
  sign(claims: JWTPayload, header?: Record<string, unknown>, key?: IdpKey): Promise<string>;
  /** A new key signs from now on; the old ones stay published unless `dropOld`. */
  rotate(options?: { dropOld?: boolean }): Promise<IdpKey>;
  /** The IdP stops answering (connections refused), until start(). */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** An RS256 key with a kid of its own; published only once `rotate` adds it. */
export async function unpublishedKey(): Promise<IdpKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = `k-${randomUUID().slice(0, 8)}`;
  return { kid, privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' }, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

export async function startIdp(options: { ssoRedirect?: string } = {}): Promise<TestIdp> {
  let callback: ((req: never, res: never) => void) | undefined;
  let fetches = 0;
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/jwks')) fetches++;
    if (callback) callback(req as never, res as never);
    else res.writeHead(503).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  const idp: TestIdp = {
    issuer,
    keys: [await unpublishedKey()],
    groups: new Map(),
    disabled: new Set(),
    format: 'jwt',
    jwksFetches: () => fetches,
    serviceToken: async (resource, dpop) => {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(IDP_SERVICE.id, IDP_SERVICE.secret), ...(dpop ? { dpop } : {}) },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope: 'mcp' }).toString(),
      });
      const json = (await res.json()) as { access_token?: string };
      if (res.status !== 200 || !json.access_token) throw new Error(`IdP token endpoint answered ${res.status}: ${JSON.stringify(json)}`);
      remember(json.access_token);
      return json.access_token;
    },
    codeFlow: (username, options = {}) => codeFlow(issuer, username, options),
    sign: async (claims, header = {}, key = idp.keys[0]!) => {
      const token = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'at+jwt', ...header } as never).sign(await importJWK(key.privateJwk, 'RS256'));
      remember(token);
      return token;
    },
    rotate: async ({ dropOld = false } = {}) => {
      const key = await unpublishedKey();
      idp.keys = dropOld ? [key] : [key, ...idp.keys];
      build();
      return key;
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    start: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)),
    close: async () => {
      if (server.listening) await idp.stop();
    },
  };

  // oidc-provider's keystore is fixed at construction: a rotation builds a new provider (the memory adapter is shared).
  const build = () => {
    const provider = new Provider(issuer, configuration(idp, options.ssoRedirect));
    callback = provider.callback() as never;
  };
  build();
  return idp;
}

function configuration(idp: TestIdp, ssoRedirect: string | undefined): Configuration {
  const claimsOf = (sub: string) => ({ groups: idp.groups.get(sub) ?? [], tid: 'acme' });
  return {
    clients: [
      { client_id: IDP_SERVICE.id, client_secret: IDP_SERVICE.secret, grant_types: ['client_credentials'], response_types: [], redirect_uris: [] },
      { client_id: IDP_APP.id, client_secret: IDP_APP.secret, grant_types: ['authorization_code'], response_types: ['code'], redirect_uris: [IDP_APP.redirect] },
      { client_id: IDP_INTROSPECTOR.id, client_secret: IDP_INTROSPECTOR.secret, grant_types: [], response_types: [], redirect_uris: [] },
      ...(ssoRedirect ? [{ client_id: IDP_SSO.id, client_secret: IDP_SSO.secret, grant_types: ['authorization_code'], response_types: ['code' as const], redirect_uris: [ssoRedirect] }] : []),
    ],
    jwks: { keys: idp.keys.map((k) => k.privateJwk) as never },
    cookies: { keys: ['idp-cookie-key-0123456789'] },
    async findAccount(_ctx, id) {
      if (idp.disabled.has(id)) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, email: `${id}@acme.example`, ...claimsOf(id) }) };
    },
    claims: { openid: ['sub'], email: ['email'], groups: ['groups', 'tid'] },
    scopes: ['openid', 'email', 'groups', 'mcp'],
    conformIdTokenClaims: false,
    pkce: { required: () => false },
    async extraTokenClaims(_ctx, token) {
      const sub = 'accountId' in token && token.accountId ? token.accountId : token.clientId;
      return sub ? claimsOf(sub) : {};
    },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      // A client that sends a proof gets a DPoP-bound token (cnf.jkt); others get bearer tokens, as before.
      dPoP: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => undefined as never,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resource) => ({
          scope: 'mcp openid email groups',
          audience: resource,
          accessTokenFormat: idp.format,
          ...(idp.format === 'jwt' ? { jwt: { sign: { alg: 'RS256' } } } : {}),
        }),
      },
    },
    ttl: { AccessToken: 600, ClientCredentials: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 600, Grant: 600 },
  };
}

export function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** The code flow through oidc-provider's development interactions, by hand: any login signs in. */
async function codeFlow(issuer: string, username: string, options: { resource?: string; scope?: string }) {
  const cookies = new Map<string, string>();
  const go = async (url: string, form?: Record<string, string>) => {
    const res = await fetch(new URL(url, issuer), {
      method: form ? 'POST' : 'GET', redirect: 'manual',
      headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '), ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    return res;
  };
  const verifier = randomBytes(32).toString('base64url');
  const query = new URLSearchParams({
    client_id: IDP_APP.id, response_type: 'code', redirect_uri: IDP_APP.redirect, scope: options.scope ?? 'openid email groups',
    state: 's', nonce: randomUUID(), code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
    ...(options.resource ? { resource: options.resource } : {}),
  });
  let res = await go(`/auth?${query}`);
  for (let hop = 0; hop < 10; hop++) {
    const location = res.headers.get('location');
    if (location?.startsWith(IDP_APP.redirect)) {
      const code = new URL(location).searchParams.get('code');
      if (!code) throw new Error(`IdP refused the sign-in: ${location}`);
      const token = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(IDP_APP.id, IDP_APP.secret) },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: IDP_APP.redirect, code_verifier: verifier, ...(options.resource ? { resource: options.resource } : {}) }).toString(),
      });
      const json = (await token.json()) as { id_token: string; access_token: string };
      if (token.status !== 200) throw new Error(`IdP token endpoint answered ${token.status}: ${JSON.stringify(json)}`);
      remember(json.id_token, json.access_token);
      return json;
    }
    if (location) {
      res = await go(location);
      continue;
    }
    const html = await res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (!action) throw new Error(`no form at the IdP: ${res.status} ${html.slice(0, 300)}`);
    res = html.includes('name="login"') ? await go(action, { prompt: 'login', login: username, password: 'any' }) : await go(action, { prompt: 'consent' });
  }
  throw new Error('too many redirects at the IdP');
}

/** A fresh store file for a gateway of these tests. */
export function tempStore(): { sqlite: string } {
  return { sqlite: join(mkdtempSync(join(tmpdir(), 'warden-idp-')), 'warden.db') };
}
