import type { IncomingMessage } from 'node:http';
import type { WardenConfig } from '../../config/index.js';
import type { AuditRecord } from '../../audit/index.js';
import { CredentialError, type ApiKeys } from '../../credentials/index.js';
import type { SignInGuard } from '../../authorization-server/sign-in-throttle.js';
import type { SsoOutcome } from '../../authorization-server/sso.js';
import type { UserDirectory, UserView } from '../../authorization-server/users.js';
import type { RateLimiter } from '../../ratelimit/index.js';
import { sameSecret } from '../../shared/constant-time.js';
import { ADMIN_SCOPE } from '../context.js';
import { cookiesOf, setCookie } from './cookies.js';
import { AdminHttpError } from './errors.js';
import { AdminSessions, type AdminSession } from './sessions.js';
import type { PendingStore } from '../../store/redis/pending.js';

/**
 * Who may use the console and the admin API, apart from MCP access: a user of the gateway's own directory who
 * holds one of `admin.roles`, signed in with the same password check and the same per-username back-off as the
 * authorization server's sign-in page, or through the company IdP (sso.ts's flow); or an API client with a key
 * holding scope `admin`.
 */

export type AdminConfig = NonNullable<WardenConfig['admin']>;

export interface AdminIdentity {
  subject: string;
  tenant?: string;
  via: 'session' | 'api_key';
  /** The session's handle or the key id: what audit records name (never the token or key). */
  credentialId: string;
  session?: AdminSession;
}

export interface RequestMeta {
  ip: string;
  userAgent?: string;
  requestId: string;
}

export interface AdminGateParts {
  admin: AdminConfig;
  users: UserDirectory;
  apiKeys: ApiKeys | undefined;
  signIns: { perIp: RateLimiter; throttle: SignInGuard };
  /** Writes a sign-in or refusal record to the audit trail. */
  record(record: AuditRecord): Promise<void>;
  instance: string;
  /** Cookies marked Secure (the gateway is reached over https). */
  secure: boolean;
  /** False: no password sign-in (auth.oauth.localPasswords: false, or no auth.oauth); administrators use the company IdP. */
  passwords: boolean;
  /** Where console sessions live: shared by all instances with Redis; default: this process. */
  sessionStore?: PendingStore<AdminSession> | undefined;
}

export const SESSION_COOKIE = 'warden_admin';

export class AdminGate {
  readonly sessions: AdminSessions;

  constructor(private readonly parts: AdminGateParts) {
    this.sessions = new AdminSessions(parts.admin.sessionTtl, parts.sessionStore);
  }

  /** The administrator behind the request, or 401/403. A session is checked against the directory on every request. */
  async identify(req: IncomingMessage, meta: RequestMeta): Promise<AdminIdentity> {
    const authorization = req.headers.authorization;
    if (authorization !== undefined) return this.byApiKey(authorization, meta);
    const token = cookiesOf(req).get(SESSION_COOKIE);
    const session = await this.sessions.get(token);
    if (!session) throw new AdminHttpError('unauthorized', 'Sign in at /admin/login, or send an API key with scope admin (Authorization: Bearer wdn_…)');
    const user = await this.parts.users.get(session.subject);
    if (!user || user.disabledAt !== null || !this.isAdministrator(user)) {
      // Disabled, removed or demoted since signing in: the console closes at once, not when the session expires
      // (this session now; the user's others at their next request, by this same check).
      await this.sessions.end(token);
      await this.refusal(session.subject, 'admin.session', `session ${session.handle} ended: the account is disabled or no longer holds an admin role`, meta);
      throw new AdminHttpError('unauthorized', 'Your console session ended: the account is disabled or no longer an administrator');
    }
    return { subject: user.username, ...(user.tenant ? { tenant: user.tenant } : {}), via: 'session', credentialId: session.handle, session };
  }

  private async byApiKey(authorization: string, meta: RequestMeta): Promise<AdminIdentity> {
    const key = /^Bearer +(wdn_\S+) *$/i.exec(authorization)?.[1];
    if (!key || !this.parts.apiKeys) {
      throw new AdminHttpError('unauthorized', this.parts.apiKeys ? 'The admin API takes an API key (Authorization: Bearer wdn_…) with scope admin' : 'API keys are off (auth.apiKeys); sign in at /admin/login');
    }
    let record;
    try {
      record = await this.parts.apiKeys.verify(key);
    } catch (err) {
      if (!(err instanceof CredentialError)) throw err;
      await this.refusal(err.keyId ?? '-', 'admin.api_key', `API key refused: ${err.code}`, meta, err.keyId);
      throw new AdminHttpError('unauthorized', err.message);
    }
    if (!record.scopes.includes(ADMIN_SCOPE)) {
      await this.refusal(record.subject, 'admin.api_key', `API key ${record.id} lacks scope ${ADMIN_SCOPE}`, meta, record.id);
      throw new AdminHttpError('forbidden', `API key ${record.id} does not hold scope ${ADMIN_SCOPE}; create one with \`warden keys create --scope ${ADMIN_SCOPE}\``);
    }
    return { subject: record.subject, ...(record.tenant ? { tenant: record.tenant } : {}), via: 'api_key', credentialId: record.id };
  }

  /**
   * Checks a username and password the way the authorization server's sign-in page does (per-IP limit, then
   * the per-username back-off asked before the password is looked at, one generic answer for unknown users and
   * wrong passwords), then that the user is an administrator. Recorded either way.
   */
  async signIn(username: string, password: string, meta: RequestMeta): Promise<{ token: string; session: AdminSession }> {
    if (!this.parts.passwords) throw new AdminHttpError('forbidden', 'Password sign-in is off here (auth.oauth.localPasswords: false); sign in with your company account at /admin/login');
    const user = await this.checkPassword(username, password, meta, 'admin.sign_in');
    const { token, session } = await this.sessions.create(user.username);
    await this.record(user.username, 'admin.sign_in', 'allow', `console session ${session.handle}`, meta, session.handle);
    return { token, session };
  }

  /**
   * The end of a company sign-in (sso.ts checked the ID token and synced the user's roles): a console session
   * only for a user that is enabled and holds an admin role after the sync. Recorded either way.
   */
  async signInWithCompany(outcome: SsoOutcome, meta: RequestMeta): Promise<{ token: string; session: AdminSession }> {
    if (!outcome.ok) {
      await this.record(outcome.subject, 'admin.sign_in', 'deny', `${outcome.reason}${outcome.rolesRemoved ? '; earlier grants revoked' : ''}`, meta);
      // sso.ts says 400 for a sign-in this browser did not start, 502 when the IdP could not be reached or answered wrongly.
      throw new AdminHttpError(outcome.status === 400 ? 'invalid_input' : outcome.status === 502 ? 'idp_unavailable' : 'forbidden', outcome.message);
    }
    const user = await this.parts.users.get(outcome.username);
    if (!user || user.disabledAt !== null || !this.isAdministrator(user)) {
      await this.record(outcome.username, 'admin.sign_in', 'deny', `company sign-in at ${outcome.issuer}: not an administrator: holds none of the roles ${this.parts.admin.roles.join(', ')}`, meta);
      throw new AdminHttpError('forbidden', `This account may not use the admin console: the company IdP gives it none of the roles in admin.roles (${this.parts.admin.roles.join(', ')}).`);
    }
    const { token, session } = await this.sessions.create(user.username, true);
    await this.record(user.username, 'admin.sign_in', 'allow', `console session ${session.handle}, company sign-in at ${outcome.issuer}${outcome.rolesRemoved ? '; roles removed at the IdP: earlier grants revoked' : ''}`, meta, session.handle);
    return { token, session };
  }

  /** Proves the password again, for destructive changes after `admin.reauthAfter`. */
  async reauthenticate(identity: AdminIdentity, password: string, meta: RequestMeta): Promise<void> {
    if (!identity.session) throw new AdminHttpError('invalid_input', 'Only console sessions re-authenticate; an API key needs no password');
    if (identity.session.sso) throw new AdminHttpError('invalid_input', 'This session was opened through the company IdP and has no password here: sign in again at /admin/login');
    await this.checkPassword(identity.subject, password, meta, 'admin.reauthenticate');
    await this.sessions.reauthenticated(identity.session);
    await this.record(identity.subject, 'admin.reauthenticate', 'allow', `console session ${identity.session.handle}`, meta, identity.session.handle);
  }

  private async checkPassword(typed: string, password: string, meta: RequestMeta, action: string): Promise<UserView> {
    const { perIp, throttle } = this.parts.signIns;
    const username = typed.trim().slice(0, 256);
    const verdict = await perIp.take(meta.ip);
    if (!verdict.ok) throw tooMany(verdict.retryAfterSeconds);
    if (!username || !password) throw new AdminHttpError('invalid_input', 'Enter your username and password.');
    const throttled = await throttle.attempt(username, meta.ip);
    if (!throttled.ok) {
      await this.record(username, action, 'deny', 'throttled: too many failures for this username', meta);
      throw tooMany(throttled.retryAfterSeconds);
    }
    const result = await this.parts.users.authenticate(username, password);
    if (!result.ok) {
      await this.record(username, action, 'deny', result.reason, meta);
      if (result.reason !== 'disabled') throw new AdminHttpError('unauthorized', 'Wrong username or password.');
      await throttle.succeeded(username, meta.ip);
      throw new AdminHttpError('forbidden', 'This account is disabled. Ask another administrator.');
    }
    await throttle.succeeded(username, meta.ip);
    if (!this.isAdministrator(result.user)) {
      await this.record(username, action, 'deny', `not an administrator: holds none of the roles ${this.parts.admin.roles.join(', ')}`, meta);
      throw new AdminHttpError('forbidden', `This account may not use the admin console: it holds none of the roles in admin.roles (${this.parts.admin.roles.join(', ')}).`);
    }
    return result.user;
  }

  /** Changes made with a console session must carry its CSRF token (API keys are not sent by browsers on their own). */
  async checkCsrf(identity: AdminIdentity, presented: string | undefined, meta: RequestMeta): Promise<void> {
    if (!identity.session) return;
    if (presented !== undefined && sameSecret(presented, identity.session.csrf)) return;
    await this.refusal(identity.subject, 'admin.csrf', `change refused: ${presented === undefined ? 'no' : 'a wrong'} CSRF token`, meta, identity.session.handle);
    throw new AdminHttpError('csrf', 'The change was refused: the form or request did not carry this session\'s CSRF token (reload the page and try again; API clients send X-CSRF-Token)');
  }

  /** A destructive change needs a password proved within `admin.reauthAfter`. */
  checkRecent(identity: AdminIdentity, now = Date.now()): void {
    if (identity.session && now - identity.session.authAt > this.parts.admin.reauthAfter) {
      throw new AdminHttpError('reauth_required', identity.session.sso
        ? 'This change needs a fresh sign-in: the company sign-in is older than admin.reauthAfter (sign in again with your company account at /admin/login)'
        : 'This change needs your password again: the sign-in is older than admin.reauthAfter (POST /admin/api/session/reauth, or the form in the console)');
    }
  }

  /** Whether cookies are marked Secure (the gateway is reached over https). */
  get secure(): boolean {
    return this.parts.secure;
  }

  get passwords(): boolean {
    return this.parts.passwords;
  }

  cookie(token: string): string {
    return setCookie(SESSION_COOKIE, token, { maxAge: Math.floor(this.parts.admin.sessionTtl / 1000), secure: this.parts.secure });
  }

  clearCookie(): string {
    return setCookie(SESSION_COOKIE, '', { maxAge: 0, secure: this.parts.secure });
  }

  async signOut(req: IncomingMessage): Promise<void> {
    await this.sessions.end(cookiesOf(req).get(SESSION_COOKIE));
  }

  private isAdministrator(user: UserView): boolean {
    return user.roles.some((r) => this.parts.admin.roles.includes(r));
  }

  private refusal(subject: string, action: string, reason: string, meta: RequestMeta, credentialId?: string): Promise<void> {
    return this.record(subject, action, 'deny', reason, meta, credentialId);
  }

  private async record(subject: string, action: string, decision: 'allow' | 'deny', reason: string, meta: RequestMeta, credentialId?: string): Promise<void> {
    await this.parts.record({
      ts: new Date().toISOString(), instance: this.parts.instance, event: 'admin', requestId: meta.requestId, subject,
      credential: { kind: action === 'admin.api_key' ? 'api_key' : 'admin_session', id: credentialId ?? '-' },
      method: action, decision, reason, ip: meta.ip, ...(meta.userAgent ? { userAgent: meta.userAgent } : {}),
    });
  }
}

function tooMany(seconds: number): AdminHttpError {
  return new AdminHttpError('rate_limited', `Too many sign-in attempts; wait ${seconds} s and try again.`, { 'retry-after': String(seconds) });
}
