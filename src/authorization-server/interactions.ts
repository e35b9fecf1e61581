import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import type { AuthorizationConfig } from '../config/index.js';
import type { ScopePolicy } from '../policy/index.js';
import type { RateLimiter } from '../ratelimit/index.js';
import { PAGE_HEADERS, consentPage, errorPage, httpsHost, loginPage, type ConsentScope } from './pages.js';
import type { ResourceCatalog } from './resources.js';
import type { SignInGuard } from './sign-in-throttle.js';
import type { UserDirectory } from './users.js';
import { INTERACTION_PREFIX } from './provider.js';
import { DEFAULT_SCOPE_PARAM } from './default-scope.js';
import type { SsoSignIn } from './sso.js';
import { RedisUnavailableError } from '../store/redis/connection.js';

/**
 * The sign-in and consent pages: server-rendered forms without JavaScript. oidc-provider owns the
 * interaction (its cookie binds it to the browser that started it); these handlers only decide who signed in
 * and what they granted, then hand the result back with `interactionFinished`.
 */

export interface InteractionEvent {
  action: 'sign_in' | 'sign_in_failed' | 'consent' | 'consent_denied';
  subject: string;
  clientId: string;
  reason: string;
  ip: string;
  userAgent?: string;
  scopes?: string[];
}

export interface InteractionParts {
  provider: () => Provider;
  users: UserDirectory;
  policy: ScopePolicy;
  scopes: AuthorizationConfig['scopes'];
  resources: ResourceCatalog;
  /** The key CSRF tokens are derived from. */
  csrfKey: () => Buffer;
  loginLimiter: RateLimiter;
  throttle: SignInGuard;
  /** Company sign-in through IdPs with use: [sso] (sso.ts). */
  sso?: SsoSignIn | undefined;
  /** False: no password sign-in (auth.oauth.localPasswords). */
  localPasswords: boolean;
  /** After a company sign-in that took roles away: the user's earlier grants end (their tokens carry the old scopes). */
  revokeGrantsOf(username: string): Promise<void>;
  clientIp(req: IncomingMessage): string;
  record(event: InteractionEvent): Promise<void>;
}

const MAX_FORM_BYTES = 8 * 1024;
const UID = /^[A-Za-z0-9_-]{1,128}$/;

class PageError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export function createInteractionHandler(parts: InteractionParts): (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void> {
  /** A synchronizer token bound to the interaction: another site cannot read it, and it is useless for another interaction. */
  const csrfFor = (uid: string) => createHmac('sha256', parts.csrfKey()).update(`csrf:${uid}`).digest('base64url');
  const csrfValid = (uid: string, presented: string | null) => {
    if (!presented) return false;
    const expected = Buffer.from(csrfFor(uid));
    const actual = Buffer.from(presented);
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  };

  return async (req, res, path) => {
    try {
      const [uid, step, extra] = path.slice(INTERACTION_PREFIX.length).split('/');
      if (!uid || !UID.test(uid) || (extra !== undefined && step !== 'sso')) throw new PageError(404, 'There is no such sign-in page.');
      const provider = parts.provider();
      let details: Awaited<ReturnType<Provider['interactionDetails']>>;
      try {
        details = await provider.interactionDetails(req, res);
      } catch {
        throw new PageError(400, 'This sign-in has expired or was started in another browser. Go back to the app and start again.');
      }
      if (details.uid !== uid) throw new PageError(400, 'This sign-in page does not belong to the sign-in in progress. Go back to the app and start again.');
      const client = await provider.Client.find(String(details.params.client_id));
      if (!client) throw new PageError(400, 'The app that started this sign-in is no longer registered.');
      const clientName = client.clientName ?? client.clientId;
      const action = `${INTERACTION_PREFIX}${uid}`;
      const ip = parts.clientIp(req);
      const userAgent = typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'].slice(0, 256) : undefined;
      const base = { clientId: client.clientId, ip, ...(userAgent ? { userAgent } : {}) };

      if (req.method === 'GET' && (step === 'sso' || step === 'sso-done')) {
        if (details.prompt.name !== 'login' || !parts.sso) throw new PageError(400, 'You are signed in already. Go back to the app and start again.');
        if (step === 'sso') {
          if (!(await parts.sso.start(uid, Number(extra), res))) throw new PageError(404, 'There is no such company sign-in.');
          return;
        }
        return await finishCompanySignIn(req, res, provider, uid, base);
      }
      if (req.method === 'GET' && step === undefined) {
        if (details.prompt.name === 'login') {
          // Only one way in: straight to the IdP, without a page to click through.
          if (!parts.localPasswords && parts.sso?.count === 1) {
            await parts.sso.start(uid, 0, res);
            return;
          }
          return page(res, 200, loginPage({ action: `${action}/login`, csrf: csrfFor(uid), clientName, companySignIn: parts.sso?.options(uid) ?? [], passwords: parts.localPasswords }));
        }
        if (details.prompt.name === 'consent') {
          if (details.params[DEFAULT_SCOPE_PARAM] !== undefined && details.session?.accountId) {
            const decision = await decide(details, details.session.accountId);
            if ([...decision.values()].every((d) => d.allowed.length === 0)) {
              // The client asked for no scope and the default (every scope of the resource) leaves nothing for
              // this user: RFC 6749 invalid_scope tells the client so, where an empty grant would only fail later.
              const listed = [...new Set([...decision.values()].flatMap((d) => d.withheld))].join(' ');
              await parts.record({ ...base, action: 'consent_denied', subject: details.session.accountId, reason: `invalid_scope: the roles grant none of ${listed || 'the resource\'s scopes'}` });
              await provider.interactionFinished(req, res, {
                error: 'invalid_scope',
                error_description: `no scope was requested, and the signed-in user's roles grant none of the resource's scopes (${listed}); ask an administrator for a role`,
              }, { mergeWithLastSubmission: true });
              return;
            }
          }
          return page(res, 200, await renderConsent(details, `${action}/consent`, csrfFor(uid), clientName, client.clientUri));
        }
        throw new PageError(400, `This sign-in needs a step this gateway does not offer (${details.prompt.name}).`);
      }
      if (req.method !== 'POST' || (step !== 'login' && step !== 'consent')) throw new PageError(405, 'Use the form on the sign-in page.');
      if (step === 'login' && !parts.localPasswords) throw new PageError(403, 'Password sign-in is turned off here; sign in with your company account.');
      const form = await readForm(req);
      if (!csrfValid(uid, form.get('csrf'))) throw new PageError(403, 'The form could not be verified (it may be stale). Go back to the app and start again.');

      if (step === 'login') {
        if (details.prompt.name !== 'login') throw new PageError(400, 'You are signed in already. Go back to the app and start again.');
        if (form.get('cancel')) {
          await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the user cancelled the sign-in' }, { mergeWithLastSubmission: false });
          return;
        }
        const username = (form.get('username') ?? '').trim().slice(0, 256);
        const password = form.get('password') ?? '';
        const relogin = (status: number, error: string) => page(res, status, loginPage({ action: `${action}/login`, csrf: csrfFor(uid), clientName, username, error }));
        const slowDown = (seconds: number) => {
          res.setHeader('retry-after', String(seconds));
          return relogin(429, `Too many sign-in attempts; wait ${seconds} s and try again.`);
        };
        const verdict = await parts.loginLimiter.take(ip);
        if (!verdict.ok) return slowDown(verdict.retryAfterSeconds);
        if (!username || !password) return relogin(400, 'Enter your username and password.');
        // Asked before the password is looked at, for any username typed: a wait says nothing about whether the user exists.
        const throttled = await parts.throttle.attempt(username, ip);
        if (!throttled.ok) {
          await parts.record({ ...base, action: 'sign_in_failed', subject: username, reason: `throttled: too many failures for this username ${throttled.scope === 'address' ? 'from this address' : 'from all addresses'}` });
          return slowDown(throttled.retryAfterSeconds);
        }
        const result = await parts.users.authenticate(username, password);
        if (!result.ok) {
          await parts.record({ ...base, action: 'sign_in_failed', subject: username, reason: result.reason });
          // Only someone who proved the password learns that the account is disabled; everyone else gets the one generic answer.
          if (result.reason === 'disabled') {
            await parts.throttle.succeeded(username, ip);
            return relogin(403, 'This account is disabled. Ask an administrator.');
          }
          return relogin(401, 'Wrong username or password.');
        }
        await parts.throttle.succeeded(username, ip);
        await parts.record({ ...base, action: 'sign_in', subject: result.user.username, reason: 'password' });
        await provider.interactionFinished(req, res, { login: { accountId: result.user.username } }, { mergeWithLastSubmission: false });
        return;
      }

      if (details.prompt.name !== 'consent' || !details.session?.accountId) throw new PageError(400, 'Sign in first. Go back to the app and start again.');
      const accountId = details.session.accountId;
      if (form.get('decision') !== 'allow') {
        await parts.record({ ...base, action: 'consent_denied', subject: accountId, reason: 'the user denied access' });
        await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the user denied access' }, { mergeWithLastSubmission: true });
        return;
      }
      const decision = await decide(details, accountId);
      const grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
      const target = grant ?? new provider.Grant({ accountId, clientId: client.clientId });
      // Resource scopes are also provider scopes, so a request without `resource` lists them here: they are
      // granted per resource above or not at all, never as OpenID scopes past the roles check.
      const resourceScopes = new Set(parts.resources.allScopes());
      const oidcScopes = (details.prompt.details.missingOIDCScope as string[] | undefined) ?? [];
      const oidcGranted = oidcScopes.filter((s) => !resourceScopes.has(s));
      const oidcRefused = oidcScopes.filter((s) => resourceScopes.has(s));
      if (oidcGranted.length) target.addOIDCScope(oidcGranted.join(' '));
      if (oidcRefused.length) target.rejectOIDCScope(oidcRefused.join(' '));
      for (const [indicator, { allowed, withheld }] of decision) {
        if (allowed.length) target.addResourceScope(indicator, allowed.join(' '));
        // Marked as seen-and-refused, so the provider does not ask again for what the user's roles do not allow.
        if (withheld.length) target.rejectResourceScope(indicator, withheld.join(' '));
      }
      const grantId = await target.save();
      const granted = [...decision.values()].flatMap((d) => d.allowed);
      await parts.record({ ...base, action: 'consent', subject: accountId, reason: `granted ${granted.join(' ') || 'no scope'}`, scopes: granted });
      await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    } catch (err) {
      if (res.headersSent) return;
      // Several instances: Redis, where company sign-ins wait for the IdP's callback, did not answer.
      const failure = err instanceof RedisUnavailableError ? new PageError(503, 'Company sign-in is unavailable for a moment. Go back to the app and try again shortly.') : err;
      const status = failure instanceof PageError ? failure.status : 500;
      const message = failure instanceof PageError ? failure.message : 'The sign-in failed on our side. Go back to the app and try again.';
      page(res, status, errorPage({ title: 'Sign-in could not continue', message }));
      if (!(failure instanceof PageError)) throw err;
    }
  };

  /** The browser is back from the IdP (sso.ts checked it all): the interaction ends signed in, or with a page saying why not. */
  async function finishCompanySignIn(req: IncomingMessage, res: ServerResponse, provider: Provider, uid: string, base: { clientId: string; ip: string; userAgent?: string }): Promise<void> {
    const state = new URL(req.url ?? '/', 'http://x').searchParams.get('state') ?? '';
    const outcome = await parts.sso!.finish(uid, state);
    if (!outcome.ok) {
      if (outcome.rolesRemoved) await parts.revokeGrantsOf(outcome.subject);
      await parts.record({ ...base, action: 'sign_in_failed', subject: outcome.subject, reason: `${outcome.reason}${outcome.rolesRemoved ? '; earlier grants revoked' : ''}` });
      return page(res, outcome.status, errorPage({ title: 'Sign-in could not continue', message: outcome.message }));
    }
    if (outcome.rolesRemoved) await parts.revokeGrantsOf(outcome.username);
    await parts.record({ ...base, action: 'sign_in', subject: outcome.username, reason: `company sign-in at ${outcome.issuer}${outcome.rolesRemoved ? '; roles removed at the IdP: earlier grants revoked' : ''}` });
    await provider.interactionFinished(req, res, { login: { accountId: outcome.username } }, { mergeWithLastSubmission: false });
  }

  /** Per resource: the requested scopes the user's roles allow, and those they do not (request ∩ roles). */
  async function decide(details: Awaited<ReturnType<Provider['interactionDetails']>>, accountId: string): Promise<Map<string, { allowed: string[]; withheld: string[] }>> {
    const user = await parts.users.get(accountId);
    const mayUse = new Set(user && user.disabledAt === null ? parts.policy.effectiveScopes({ scopes: [], roles: user.roles }) : []);
    const missing = (details.prompt.details.missingResourceScopes ?? {}) as Record<string, string[]>;
    const result = new Map<string, { allowed: string[]; withheld: string[] }>();
    for (const [indicator, requested] of Object.entries(missing)) {
      result.set(indicator, { allowed: requested.filter((s) => mayUse.has(s)), withheld: requested.filter((s) => !mayUse.has(s)) });
    }
    return result;
  }

  async function renderConsent(details: Awaited<ReturnType<Provider['interactionDetails']>>, action: string, csrf: string, clientName: string, clientUri: string | undefined): Promise<string> {
    const accountId = details.session?.accountId ?? '';
    const decision = await decide(details, accountId);
    const indicators = [...decision.keys()];
    const resourceName = indicators.map((i) => parts.resources.get(i)?.upstream ?? i).join(', ') || 'this gateway';
    const allowed = [...new Set([...decision.values()].flatMap((d) => d.allowed))].sort();
    const withheld = [...new Set([...decision.values()].flatMap((d) => d.withheld))].sort();
    const scopes: ConsentScope[] = allowed.map((name) => {
      const spec = parts.scopes[name];
      return {
        name,
        ...(spec?.description ? { description: spec.description } : {}),
        tools: spec?.tools ?? [],
        resources: spec?.resources ?? [],
        prompts: spec?.prompts ?? [],
        ...(spec?.upstreams ? { upstreams: spec.upstreams } : {}),
      };
    });
    const clientHost = httpsHost(clientUri);
    return consentPage({ action, csrf, clientName, ...(clientHost ? { clientHost } : {}), username: accountId, resourceName, scopes, withheld });
  }
}

function page(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, PAGE_HEADERS);
  res.end(html);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  if (!/^application\/x-www-form-urlencoded\b/i.test(String(req.headers['content-type'] ?? ''))) throw new PageError(415, 'The form was not sent as a form.');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw new PageError(413, 'The form is too large.');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
