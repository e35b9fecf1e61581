import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sameSecret } from '../../../shared/constant-time.js';
import { parseDuration } from '../../../shared/duration.js';
import { cookiesOf, setCookie } from '../cookies.js';
import { queryOf, readForm } from '../body.js';
import { AdminHttpError, httpErrorOf } from '../errors.js';
import type { AdminGate, AdminIdentity, RequestMeta } from '../gate.js';
import type { CompanySignIn } from '../../../authorization-server/sso.js';
import { generatedPassword, localPasswords, servicesFor, type ActingServices, type AdminBackend } from '../services.js';
import { auditRecordView, auditView, overviewView, scopesView } from './audit-views.js';
import { html, page, type Html, type Identity } from './html.js';
import { STYLE } from './style.js';
import { clientsView, clientView, keysView, keyView, sessionsView, usersView, userView, type View, type ViewContext } from './views.js';

/**
 * The console at /admin: server-rendered pages whose every action is a plain form post (no script), each with
 * the session's CSRF token; the same admin services as the API do the work.
 */

interface ConsoleParts {
  gate: AdminGate;
  backend: AdminBackend;
  meta: RequestMeta;
  companySignIn?: CompanySignIn | undefined;
}

const PAGE_TYPE = { 'content-type': 'text/html; charset=utf-8' };
const LOGIN_COOKIE = 'warden_admin_login';
/** Binds a company sign-in to the browser that started it; SameSite=Lax, as it comes back from the IdP's redirect. */
const SSO_COOKIE = 'warden_admin_sso';
const SSO_PATH = '/admin/sso';

const VIEWS: Record<string, (c: ViewContext & { backend: AdminBackend }) => Promise<View>> = {
  '/': overviewView, '/keys': keysView, '/keys/show': keyView, '/users': usersView, '/users/show': userView,
  '/clients': clientsView, '/clients/show': clientView, '/sessions': sessionsView, '/audit': auditView, '/audit/record': auditRecordView, '/scopes': scopesView,
};

/** What a form post does; `destructive` ones need a recent password. The answer is the page to show, with a notice. */
interface Action {
  destructive?: boolean;
  run(services: ActingServices, form: URLSearchParams, backend: AdminBackend): Promise<{ view: string; query?: Record<string, string>; notice: string; secret?: Html }>;
}

const field = (form: URLSearchParams, name: string) => (form.get(name) ?? '').trim();
const optional = (form: URLSearchParams, name: string) => field(form, name) || undefined;
function durationField(form: URLSearchParams, name: string, label: string): number | undefined {
  const value = optional(form, name);
  if (value === undefined) return undefined;
  try {
    return parseDuration(value);
  } catch {
    throw new AdminHttpError('invalid_input', `${label}: expected a duration such as 30m, 12h or 90d`);
  }
}
const shownOnce = (what: string, secret: string) => html`<div class="secret" role="alert"><p><strong>${what}</strong> — copy it now: it is shown this once and cannot be shown again.</p><p><code>${secret}</code></p></div>`;

const ACTIONS: Record<string, Action> = {
  '/keys/create': { run: async (svc, f) => {
    const expiresIn = durationField(f, 'expiresIn', 'Expires in');
    const { key, view } = await svc.keys.create({ subject: field(f, 'subject'), tenant: optional(f, 'tenant'), name: optional(f, 'name'), scopes: f.getAll('scopes'), roles: f.getAll('roles'), ...(expiresIn !== undefined ? { expiresInMs: expiresIn } : {}) });
    return { view: '/keys', notice: `Key ${view.id} created for ${view.subject}.`, secret: shownOnce('The new key', key) };
  } },
  '/keys/revoke': { destructive: true, run: async (svc, f) => {
    const view = await svc.keys.revoke(field(f, 'id'));
    return { view: '/keys', notice: `Key ${view.id} of ${view.subject} is revoked: it is refused from the next request on.` };
  } },
  '/keys/rotate': { destructive: true, run: async (svc, f) => {
    const { key, view, previous } = await svc.keys.rotate(field(f, 'id'), durationField(f, 'grace', 'Grace period') ?? 0);
    return { view: '/keys/show', query: { id: view.id }, notice: `Key ${previous.id} was replaced by ${view.id}.`, secret: shownOnce('The new key', key) };
  } },
  '/users/add': { run: async (svc, f) => {
    const password = generatedPassword();
    const user = await svc.users.add({ username: field(f, 'username'), password, roles: f.getAll('roles'), displayName: optional(f, 'displayName'), passwordGenerated: true });
    return { view: '/users', notice: `User ${user.username} added.`, secret: shownOnce(`The password of ${user.username}`, password) };
  } },
  '/users/disable': { destructive: true, run: async (svc, f) => {
    const { user, revokedGrants } = await svc.users.disable(field(f, 'username'));
    return { view: '/users', notice: `User ${user.username} is disabled; ${revokedGrants} grant(s) revoked.` };
  } },
  '/users/enable': { run: async (svc, f) => ({ view: '/users', notice: `User ${(await svc.users.enable(field(f, 'username'))).username} is enabled.` }) },
  '/users/roles': { destructive: true, run: async (svc, f) => {
    const { user } = await svc.users.setRoles(field(f, 'username'), f.getAll('roles'));
    return { view: '/users/show', query: { username: user.username }, notice: `Roles of ${user.username} set; their grants were revoked.` };
  } },
  '/users/password': { destructive: true, run: async (svc, f, backend) => {
    if (!localPasswords(backend.config)) throw new AdminHttpError('conflict', 'Local passwords are off: auth.oauth is not configured');
    const password = generatedPassword();
    const { user } = await svc.users.resetPassword(field(f, 'username'), password, { generated: true });
    return { view: '/users/show', query: { username: user.username }, notice: `Password of ${user.username} reset; everything they held was revoked.`, secret: shownOnce(`The new password of ${user.username}`, password) };
  } },
  '/clients/revoke': { destructive: true, run: async (svc, f) => {
    const r = await svc.clients.revoke(field(f, 'id'));
    return { view: '/clients', notice: `Client ${r.client_name ?? r.client_id} revoked with ${r.grants.length} grant(s).` };
  } },
  '/tokens/revoke': { destructive: true, run: async (svc, f) => {
    const kind = field(f, 'kind');
    if (kind !== 'user' && kind !== 'client' && kind !== 'grant') throw new AdminHttpError('invalid_input', 'Name a user, a client or a grant');
    const r = await svc.tokens.revoke({ kind, value: field(f, 'value') });
    return { view: kind === 'client' ? '/clients' : '/users', notice: `Tokens of ${kind} ${r.value} revoked (${r.grants.length} grant(s)).` };
  } },
  '/sessions/end': { destructive: true, run: async (svc, f) => {
    const s = await svc.sessions.end(field(f, 'upstream'), field(f, 'id'));
    return { view: '/sessions', notice: `Session of ${s.subject} on ${s.upstream} ended.` };
  } },
};

export async function answerConsole(req: IncomingMessage, res: ServerResponse, path: string, parts: ConsoleParts): Promise<void> {
  const { gate, backend, meta } = parts;
  const method = req.method ?? 'GET';
  if (path === '/style.css' && method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/css; charset=utf-8' }).end(STYLE);
    return;
  }
  if (path === '/login') return login(req, res, method, parts);
  if (path.startsWith('/sso/') && method === 'GET') return companySignIn(req, res, path.slice('/sso/'.length), parts);

  let identity: AdminIdentity;
  try {
    identity = await gate.identify(req, meta);
  } catch (err) {
    if (method === 'GET' && err instanceof AdminHttpError && err.code === 'unauthorized') return redirect(res, '/admin/login');
    throw err;
  }
  const who: Identity = { subject: identity.subject, csrf: identity.session?.csrf };
  const services = servicesFor(backend, identity, meta.requestId);
  const show = async (view: string, query: Record<string, string>, status = 200, extra: { notice?: string; error?: string; secret?: Html } = {}) => {
    const v = await VIEWS[view]!({ services, config: backend.config, who, query, backend });
    const body = extra.secret ? html`${extra.secret}${v.body}` : v.body;
    send(res, status, page({ title: v.title, section: v.section, who, body, ...(extra.notice ? { notice: extra.notice } : {}), ...(extra.error ? { error: extra.error } : {}) }));
  };

  if (method === 'GET') {
    if (!VIEWS[path]) throw new AdminHttpError('not_found', `There is no console page at /admin${path.slice(0, 100)}`);
    return show(path, queryOf(req));
  }
  if (method !== 'POST') throw new AdminHttpError('method_not_allowed', 'Use the console\'s links and forms');
  const form = await readForm(req);
  await gate.checkCsrf(identity, form.get('csrf') ?? undefined, meta);
  if (path === '/logout') {
    await gate.signOut(req);
    res.setHeader('set-cookie', gate.clearCookie());
    return redirect(res, '/admin/login');
  }
  if (path === '/reauth') {
    await gate.reauthenticate(identity, form.get('password') ?? '', meta);
    return redirect(res, safeBack(form.get('back')));
  }
  const action = ACTIONS[path];
  if (!action) throw new AdminHttpError('not_found', `There is no console action at /admin${path.slice(0, 100)}`);
  if (action.destructive) {
    try {
      gate.checkRecent(identity);
    } catch (err) {
      return send(res, 401, page({ title: 'Confirm it is you', who, error: (err as Error).message, body: identity.session?.sso ? companyReauth() : reauthForm(who, `/admin${sectionOf(path)}`) }));
    }
  }
  try {
    const done = await action.run(services, form, backend);
    await show(done.view, done.query ?? {}, 200, { notice: done.notice, ...(done.secret ? { secret: done.secret } : {}) });
  } catch (err) {
    const failure = httpErrorOf(err);
    if (!failure) throw err;
    // The section the action belongs to, with what went wrong in words.
    await show(sectionOf(path), {}, failure.status, { error: failure.message });
  }
}

/** The sign-in page: a button per company IdP, and the password form unless local passwords are off. */
async function login(req: IncomingMessage, res: ServerResponse, method: string, parts: ConsoleParts): Promise<void> {
  const { gate, meta } = parts;
  const { secure } = gate;
  const fresh = () => {
    const { token, cookie } = loginToken(secure);
    res.setHeader('set-cookie', cookie);
    return token;
  };
  const ways = { passwords: gate.passwords, company: parts.companySignIn?.labels() ?? [] };
  if (method === 'GET') return send(res, 200, loginPage(ways, fresh()));
  if (method !== 'POST') throw new AdminHttpError('method_not_allowed', 'Sign in with the form');
  const form = await readForm(req);
  const expected = cookiesOf(req).get(LOGIN_COOKIE);
  const presented = form.get('csrf') ?? '';
  if (!expected || !sameSecret(presented, expected)) return send(res, 403, loginPage(ways, fresh(), 'The sign-in form expired; try again.'));
  try {
    const { token } = await gate.signIn(form.get('username') ?? '', form.get('password') ?? '', meta);
    res.setHeader('set-cookie', [gate.cookie(token), setCookie(LOGIN_COOKIE, '', { maxAge: 0, secure })]);
    return redirect(res, '/admin');
  } catch (err) {
    const failure = httpErrorOf(err);
    if (!failure) throw err;
    for (const [k, v] of Object.entries(failure.headers)) res.setHeader(k, v);
    return send(res, failure.status, loginPage(ways, fresh(), failure.message, form.get('username') ?? ''));
  }
}

/** The sign-in form's CSRF token: a cookie and the same value in the form (another site can set neither). */
function loginToken(secure: boolean): { token: string; cookie: string } {
  const token = randomBytes(24).toString('base64url');
  return { token, cookie: setCookie(LOGIN_COOKIE, token, { maxAge: 1800, secure }) };
}

interface SignInWays {
  passwords: boolean;
  /** One button per company IdP (labels from auth.jwt.issuers[].sso). */
  company: string[];
}

function loginPage(ways: SignInWays, csrf: string, error?: string, username = ''): string {
  const company = ways.company.length ? html`<ul class="stack">${ways.company.map((label, n) => html`<li><a class="button" href="${SSO_PATH}/${String(n)}">${label}</a></li>`)}</ul>` : '';
  const form = ways.passwords ? html`<form class="stack" method="post" action="/admin/login">
<input type="hidden" name="csrf" value="${csrf}">
<label>Username <input name="username" autocomplete="username" required value="${username.slice(0, 256)}" autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>` : '';
  const how = ways.passwords ? 'Administrators sign in with their gateway account' : 'Administrators sign in with their company account';
  return page({ title: 'Sign in to the admin console', ...(error ? { error } : {}), body: html`${company}${form}<p class="muted">${how}; it needs an admin role.</p>` });
}

/**
 * `/admin/sso/<n>` sends the browser to company IdP number n (sso.ts's flow, bound to a random value in a cookie
 * of this path); `/admin/sso/done` is where it comes back: a console session only for an administrator.
 */
async function companySignIn(req: IncomingMessage, res: ServerResponse, step: string, parts: ConsoleParts): Promise<void> {
  const { gate, meta, companySignIn: sso } = parts;
  if (!sso) throw new AdminHttpError('not_found', 'Company sign-in is not configured (auth.jwt.issuers[].use: [sso] with auth.oauth)');
  const cookie = (value: string, maxAge: number) => setCookie(SSO_COOKIE, value, { maxAge, secure: gate.secure, path: SSO_PATH, sameSite: 'Lax' });
  if (step !== 'done') {
    const binding = randomBytes(24).toString('base64url');
    res.setHeader('set-cookie', cookie(binding, 600));
    if (!/^\d{1,3}$/.test(step) || !(await sso.start(binding, Number(step), res, `${SSO_PATH}/done`))) {
      res.removeHeader('set-cookie');
      throw new AdminHttpError('not_found', 'There is no such company sign-in; use a button on /admin/login');
    }
    return;
  }
  const ways = { passwords: gate.passwords, company: sso.labels() };
  const state = queryOf(req).state ?? '';
  const binding = cookiesOf(req).get(SSO_COOKIE) ?? '';
  try {
    const { token, session } = await gate.signInWithCompany(await sso.finish(binding, state), meta);
    res.setHeader('set-cookie', [gate.cookie(token), cookie('', 0)]);
    // Not a redirect: the chain began at the IdP, another site, and a browser keeps the SameSite=Strict session
    // cookie off every request of it. A link followed from this page is same-site.
    return send(res, 200, page({ title: 'Signed in', notice: `Signed in as ${session.subject} through your company account.`, body: html`<p><a class="button" href="/admin">Continue to the console</a></p>` }));
  } catch (err) {
    const failure = httpErrorOf(err);
    if (!failure) throw err;
    const login = loginToken(gate.secure);
    res.setHeader('set-cookie', [cookie('', 0), login.cookie]);
    return send(res, failure.status, loginPage(ways, login.token, failure.message));
  }
}

/** A company sign-in proves itself at the IdP again: a fresh sign-in opens a fresh session. */
function companyReauth(): Html {
  return html`<p>This change takes access away, and you signed in a while ago. <a href="/admin/login">Sign in again</a> with your company account, then repeat the change.</p>`;
}

function reauthForm(who: Identity, back: string): Html {
  return html`<p>This change takes access away, and you signed in a while ago. Enter your password, then repeat the change.</p>
<form class="stack" method="post" action="/admin/reauth"><input type="hidden" name="csrf" value="${who.csrf}"><input type="hidden" name="back" value="${back}">
<label>Password <input name="password" type="password" autocomplete="current-password" required autofocus></label><button type="submit">Confirm</button></form>`;
}

/** The list page of the section an action belongs to (pages send no Referer: referrer-policy no-referrer). */
function sectionOf(action: string): string {
  const section = `/${action.split('/')[1] ?? ''}`;
  return section === '/tokens' ? '/users' : VIEWS[section] ? section : '/';
}

/** A console path to go back to: only ever one of ours (no open redirect). */
function safeBack(value: string | null | undefined): string {
  if (!value) return '/admin';
  try {
    const url = new URL(value, 'http://x');
    return /^\/admin(\/[A-Za-z0-9/_-]*)?$/.test(url.pathname) && !url.pathname.startsWith('/admin/api') ? `${url.pathname}${url.search}` : '/admin';
  } catch {
    return '/admin';
  }
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, PAGE_TYPE).end(body);
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, { location }).end();
}

/** A refusal as a page, in words. */
export function consoleError(res: ServerResponse, error: AdminHttpError): void {
  const title = error.status === 404 ? 'Not found' : error.status === 429 ? 'Slow down' : error.status >= 500 ? 'Something failed' : 'Not allowed';
  res.writeHead(error.status, { ...PAGE_TYPE, ...error.headers }).end(page({ title, error: error.message, body: html`<p><a href="/admin">Back to the console</a></p>` }));
}
