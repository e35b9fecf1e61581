import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UserRecord, UserStore } from '../store/index.js';
import { MemoryPendingStore, type PendingStore } from '../store/redis/pending.js';
import { sameSecret } from '../shared/constant-time.js';
import type { Principal } from '../shared/principal.js';
import { readBounded } from '../shared/bounded-body.js';
import type { CompanyIdp } from './company-idp.js';
import { USERNAME_PATTERN } from './users.js';
import { INTERACTION_PREFIX } from './provider.js';

/**
 * Company sign-in at the embedded authorization server: the sign-in page sends people to the IdP (OIDC
 * authorization code flow with PKCE, `state` and `nonce`), and the ID token that comes back names a warden
 * user — created on first sign-in, its roles and tenant kept in sync with the IdP's on every sign-in. MCP
 * clients see nothing of it: they do plain MCP OAuth against the gateway, consent and tokens as before.
 *
 * The IdP redirects to one fixed URL (`/oauth/sso/callback`), registered once at the IdP; oidc-provider's
 * interaction cookie is scoped to `/oauth/interaction/<uid>`, so the callback keeps the code here and sends
 * the browser back there, where the cookie proves it is the browser that started the sign-in.
 */

export const SSO_CALLBACK = '/oauth/sso/callback';
/** Marks a user the IdP owns: no password verifies against it, and a local account of the same name is never taken over. */
const SSO_PASSWORD_PREFIX = 'sso:';
const PENDING_TTL_MS = 10 * 60_000;
const PENDING_MAX = 10_000;
const TIMEOUT_MS = 10_000;

export interface Pending {
  /** What the browser proves on return: the interaction's uid (its cookie), or the admin console's binding cookie. */
  uid: string;
  /** Where the callback sends the browser, with `?state=` added. */
  back: string;
  idp: number;
  verifier: string;
  nonce: string;
  expires: number;
  code?: string;
  error?: string;
}

export type SsoOutcome =
  | { ok: true; username: string; issuer: string; rolesRemoved: boolean }
  | { ok: false; status: number; message: string; reason: string; subject: string; rolesRemoved?: boolean };

/**
 * Company sign-in as another sign-in page (the admin console) uses it: the same flow and checks, bound to a
 * value the page keeps in its own cookie, returning to `back`. Grants of a user whose roles the IdP took away
 * are revoked here as at the authorization server's page.
 */
export interface CompanySignIn {
  labels(): string[];
  start(binding: string, n: number, res: ServerResponse, back: string): Promise<boolean>;
  finish(binding: string, state: string): Promise<SsoOutcome>;
}

export interface SsoParts {
  /** The gateway's issuer: the callback is under it. */
  issuer: string;
  idps: readonly CompanyIdp[];
  users: UserStore;
  /** Where started sign-ins wait for their callback: this process's memory, or Redis so the callback may land on any instance. */
  pending?: PendingStore<Pending> | undefined;
  now?: () => number;
}

export class SsoSignIn {
  /** Keyed by `state`; in memory (the IdP must send the browser back to the same instance) or in Redis. */
  private readonly pending: PendingStore<Pending>;
  private readonly now: () => number;

  constructor(private readonly parts: SsoParts) {
    this.now = parts.now ?? Date.now;
    this.pending = parts.pending ?? new MemoryPendingStore<Pending>(PENDING_MAX, this.now);
  }

  get count(): number {
    return this.parts.idps.length;
  }

  /** The sign-in buttons: where each goes, and what it says. */
  options(uid: string): { href: string; label: string }[] {
    return this.labels().map((label, n) => ({ href: `${INTERACTION_PREFIX}${uid}/sso/${n}`, label }));
  }

  labels(): string[] {
    return this.parts.idps.map((idp) => idp.config.sso?.label ?? `Sign in with ${new URL(idp.issuer).host}`);
  }

  /** Sends the browser to IdP number `n`; false when there is no such IdP. Back from the IdP, the browser goes to `back` (the interaction by default). */
  async start(uid: string, n: number, res: ServerResponse, back = `${INTERACTION_PREFIX}${uid}/sso-done`): Promise<boolean> {
    const idp = this.parts.idps[n];
    const endpoint = idp?.metadata?.authorization_endpoint;
    if (!idp || !endpoint || !idp.config.sso) return false;
    const state = randomBytes(24).toString('base64url');
    const verifier = randomBytes(32).toString('base64url');
    const nonce = randomBytes(24).toString('base64url');
    await this.pending.put(state, { uid, back, idp: n, verifier, nonce, expires: this.now() + PENDING_TTL_MS }, PENDING_TTL_MS);
    const scopes = new Set(['openid', ...idp.config.sso.scopes]);
    const url = new URL(endpoint);
    for (const [k, v] of Object.entries({
      response_type: 'code', client_id: idp.config.sso.clientId, redirect_uri: `${this.parts.issuer}${SSO_CALLBACK}`, scope: [...scopes].join(' '),
      state, nonce, code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
    })) url.searchParams.set(k, v);
    res.writeHead(303, { location: url.href, 'cache-control': 'no-store' }).end();
    return true;
  }

  /** The IdP's redirect: the code is kept, the browser goes back to where it started (its interaction, or the console). */
  async callback(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    const state = query.get('state') ?? '';
    if (!state) return false;
    const pending = await this.pending.get(state);
    if (!pending || pending.expires < this.now()) return false;
    const code = query.get('code');
    if (code) pending.code = code;
    else pending.error = (query.get('error') ?? 'no code').slice(0, 100);
    if (!(await this.pending.update(state, pending))) return false;
    res.writeHead(303, { location: `${pending.back}?state=${encodeURIComponent(state)}`, 'cache-control': 'no-store' }).end();
    return true;
  }

  /**
   * Back where it started (the interaction's cookie, or the console's, holding `uid`): the code redeemed at the IdP, the ID token checked
   * (signature, iss, aud = our client, exp, nonce), its claims mapped, the user created or brought in sync.
   */
  async finish(uid: string, state: string): Promise<SsoOutcome> {
    const refuse = (status: number, message: string, reason: string, subject = '-'): SsoOutcome => ({ ok: false, status, message, reason, subject });
    let pending: Pending | undefined;
    try {
      // Used once, whatever happens next.
      pending = state ? await this.pending.take(state) : undefined;
    } catch {
      return refuse(503, 'Company sign-in is unavailable for a moment. Go back to the app and start again shortly.', 'sso: shared state unavailable');
    }
    if (!pending || pending.expires < this.now() || !sameSecret(pending.uid, uid)) return refuse(400, 'This company sign-in expired or belongs to another sign-in. Go back to the app and start again.', 'sso: unknown or expired state');
    const idp = this.parts.idps[pending.idp]!;
    if (pending.error || !pending.code) return refuse(403, `The company sign-in did not succeed (${pending.error ?? 'no code'}). Go back to the app and try again, or ask your administrator.`, `sso: the IdP answered ${pending.error}`);
    let claims: Record<string, unknown>;
    try {
      const idToken = await this.redeem(idp, pending);
      claims = await idp.verifyJwt(idToken, 'id-token', [idp.config.sso!.clientId], this.now());
      if (typeof claims.nonce !== 'string' || !sameSecret(claims.nonce, pending.nonce)) throw new Error('the ID token does not carry the nonce of this sign-in');
      if (Array.isArray(claims.aud) && claims.aud.length > 1 && claims.azp !== idp.config.sso!.clientId) throw new Error('the ID token was issued to another party (azp)');
    } catch (err) {
      return refuse(502, 'The company sign-in could not be completed. Try again; if it keeps failing, ask your administrator (the gateway log says why).', `sso: ${(err as Error).message}`.slice(0, 300));
    }
    let principal: Principal;
    try {
      principal = idp.principalOf(claims, '');
    } catch (err) {
      const subject = String(idp.subjectOf(claims) ?? '-');
      const refused = refuse(403, 'Your company account has no role that gives access here. Ask your administrator for access.', `sso: ${(err as Error).message.replace(/^Unauthorized: /, '')}`.slice(0, 300), subject);
      // Every role taken away at the IdP: the user this IdP made keeps no role here, and loses the grants it had.
      const existing = USERNAME_PATTERN.test(subject) ? await this.parts.users.get(subject) : undefined;
      if (existing && existing.passwordHash === `${SSO_PASSWORD_PREFIX}${idp.issuer}` && existing.roles.length > 0) {
        await this.parts.users.update(subject, { roles: [] });
        return { ...refused, rolesRemoved: true };
      }
      return refused;
    }
    const username = principal.subject;
    if (!USERNAME_PATTERN.test(username)) {
      return refuse(403, 'Your company account cannot be used here (its name has characters a user name may not have). Ask your administrator.', `sso: subject not usable as a username; set ${idp.configPath}.claims.subject to another claim (e.g. preferred_username or email)`, username.slice(0, 100));
    }
    return this.sync(idp, principal, claims, username);
  }

  private async sync(idp: CompanyIdp, principal: Principal, claims: Record<string, unknown>, username: string): Promise<SsoOutcome> {
    const marker = `${SSO_PASSWORD_PREFIX}${idp.issuer}`;
    const existing = await this.parts.users.get(username);
    const displayName = [claims.name, claims.email, claims.preferred_username].find((v): v is string => typeof v === 'string')?.slice(0, 200) ?? null;
    if (existing && existing.passwordHash !== marker) {
      return { ok: false, status: 403, message: 'An account of the same name exists here and is not managed by your company sign-in. Ask your administrator.', reason: `sso: a user named ${username} exists that ${idp.issuer} does not own`, subject: username };
    }
    if (existing?.disabledAt != null) {
      return { ok: false, status: 403, message: 'This account is disabled here. Ask an administrator.', reason: 'sso: the user is disabled at the gateway', subject: username };
    }
    const now = this.now();
    if (!existing) {
      const user: UserRecord = {
        username, passwordHash: marker, roles: principal.roles, tenant: principal.tenant ?? null, displayName,
        createdAt: now, disabledAt: null, passwordChangedAt: now, failedLogins: 0, lockedUntil: null,
      };
      await this.parts.users.insert(user);
      return { ok: true, username, issuer: idp.issuer, rolesRemoved: false };
    }
    const rolesRemoved = existing.roles.some((r) => !principal.roles.includes(r));
    await this.parts.users.update(username, { roles: principal.roles, tenant: principal.tenant ?? null, displayName });
    return { ok: true, username, issuer: idp.issuer, rolesRemoved };
  }

  private async redeem(idp: CompanyIdp, pending: Pending): Promise<string> {
    const endpoint = idp.metadata?.token_endpoint;
    if (!endpoint) throw new Error(`${idp.issuer} publishes no token_endpoint`);
    const { clientId, clientSecret } = idp.config.sso!;
    const res = await fetch(endpoint, {
      method: 'POST',
      redirect: 'error',
      signal: AbortSignal.timeout(TIMEOUT_MS),
      headers: {
        'content-type': 'application/x-www-form-urlencoded', accept: 'application/json',
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: pending.code!, redirect_uri: `${this.parts.issuer}${SSO_CALLBACK}`, code_verifier: pending.verifier }).toString(),
    });
    const text = await readBounded(res, 256 * 1024);
    let json: { id_token?: unknown; error?: unknown };
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      throw new Error(`the IdP token endpoint answered ${res.status} with something that is not JSON`);
    }
    if (res.status !== 200) throw new Error(`the IdP token endpoint answered ${res.status} ${String(json.error ?? '').slice(0, 60)}`);
    if (typeof json.id_token !== 'string') throw new Error('the IdP answered without an ID token (is openid among the scopes?)');
    return json.id_token;
  }
}
