import type { WardenConfig } from '../../../config/index.js';
import type { ApiKeyView } from '../../../credentials/index.js';
import type { UserView } from '../../../authorization-server/users.js';
import { page as pageOf } from '../api-routes.js';
import * as s from '../api-schemas.js';
import { validate } from '../body.js';
import type { ActingServices } from '../services.js';
import { button, html, list, pager, table, time, type Html, type Identity } from './html.js';

/** The console's pages for keys, users, clients and sessions: what each shows, with the forms that act on it. */

export interface View {
  title: string;
  section: string;
  body: Html;
}

export interface ViewContext {
  services: ActingServices;
  config: WardenConfig;
  who: Identity;
  query: Record<string, string>;
}

const csrf = (who: Identity) => html`<input type="hidden" name="csrf" value="${who.csrf}">`;
const checkboxes = (name: string, legend: string, options: string[], checked: string[] = []) => options.length === 0 ? '' : html`<fieldset><legend>${legend}</legend>${options.map((o) => html`<label class="check"><span><input type="checkbox" name="${name}" value="${o}"${checked.includes(o) ? html` checked` : ''}> ${o}</span></label>`)}</fieldset>`;
const code = (v: unknown) => html`<code>${v}</code>`;

export async function keysView({ services, config, who, query }: ViewContext): Promise<View> {
  const q = validate(s.keysQuery, query, 'query');
  const { items, next, total } = pageOf(await services.keys.list(q), q);
  const scopes = [...Object.keys(config.authorization.scopes), ...(config.admin ? ['admin'] : [])];
  const body = html`<form class="filters" method="get" action="/admin/keys" role="search" aria-label="Filter keys">
<label>Subject <input name="subject" value="${q.subject ?? ''}" autocomplete="off"></label>
<label>Tenant <input name="tenant" value="${q.tenant ?? ''}" autocomplete="off"></label>
<label class="check"><span><input type="checkbox" name="includeInactive" value="true"${q.includeInactive ? html` checked` : ''}> Also revoked, expired and rotated</span></label>
<button type="submit">Filter</button></form>
${table<ApiKeyView>(`API keys (${total})`, [
    { label: 'Key id', cell: (k) => html`<a href="/admin/keys/show?id=${k.id}">${code(k.id)}</a>` },
    { label: 'Subject', cell: (k) => html`${k.subject}${k.tenant ? ` (${k.tenant})` : ''}` },
    { label: 'Name', cell: (k) => k.name ?? '' },
    { label: 'Scopes / roles', cell: (k) => html`${list([...k.scopes, ...k.roles.map((r) => `role ${r}`)])}` },
    { label: 'Status', cell: (k) => html`<span class="${k.status === 'active' ? 'allow' : 'deny'}">${k.status}</span>` },
    { label: 'Expires', cell: (k) => time(k.expiresAt) },
    { label: 'Last used', cell: (k) => time(k.lastUsedAt) },
    { label: 'Actions', cell: (k) => (k.status === 'active' || k.status === 'grace' ? button('/keys/revoke', `Revoke ${k.id}`, who, { id: k.id }, true) : '') },
  ], items, 'No key matches.')}
${pager('/keys', { subject: q.subject, tenant: q.tenant, includeInactive: q.includeInactive ? 'true' : undefined, cursor: q.cursor }, next)}
<h2 id="new-key">Create a key</h2>
<form class="stack" method="post" action="/admin/keys/create" aria-labelledby="new-key">${csrf(who)}
<label>Subject (who uses it) <input name="subject" required autocomplete="off"></label>
<label>Name (where it is used) <input name="name" autocomplete="off"></label>
<label>Tenant <input name="tenant" autocomplete="off"></label>
${checkboxes('scopes', 'Scopes', scopes)}${checkboxes('roles', 'Roles', Object.keys(config.authorization.roles))}
<label>Expires in (e.g. 90d; empty: never) <input name="expiresIn" pattern="\\d+(ms|s|m|h|d)" autocomplete="off"></label>
<button type="submit">Create key</button></form>`;
  return { title: 'API keys', section: '/keys', body };
}

export async function keyView({ services, who, query }: ViewContext): Promise<View> {
  const k = await services.keys.get(validate(s.idQuery, query, 'query').id);
  const live = k.status === 'active' || k.status === 'grace';
  const body = html`<dl class="record">
<dt>Key id</dt><dd>${code(k.id)}</dd><dt>Subject</dt><dd>${k.subject}</dd><dt>Tenant</dt><dd>${k.tenant ?? '—'}</dd><dt>Name</dt><dd>${k.name ?? '—'}</dd>
<dt>Scopes</dt><dd>${list(k.scopes)}</dd><dt>Roles</dt><dd>${list(k.roles)}</dd><dt>Status</dt><dd>${k.status}</dd>
<dt>Created</dt><dd>${time(k.createdAt)}</dd><dt>Expires</dt><dd>${time(k.expiresAt)}</dd><dt>Last used</dt><dd>${time(k.lastUsedAt)}</dd>
<dt>Revoked</dt><dd>${time(k.revokedAt)}</dd><dt>Replaced by</dt><dd>${k.replacedBy ? html`<a href="/admin/keys/show?id=${k.replacedBy}">${k.replacedBy}</a>` : '—'}</dd></dl>
${live ? html`<h2>Act on this key</h2>${button('/keys/revoke', 'Revoke this key', who, { id: k.id }, true)}
<form class="filters" method="post" action="/admin/keys/rotate">${csrf(who)}<input type="hidden" name="id" value="${k.id}">
<label>Grace period for the old key <input name="grace" value="1h" pattern="\\d+(ms|s|m|h|d)"></label><button type="submit">Rotate</button></form>` : ''}
<p><a href="/admin/audit?tool=${k.id}">Its audit records</a> · <a href="/admin/keys">All keys</a></p>`;
  return { title: `API key ${k.id}`, section: '/keys', body };
}

export async function usersView({ services, config, who, query }: ViewContext): Promise<View> {
  const q = validate(s.listQuery, query, 'query');
  const { items, next, total } = pageOf(await services.users.list(), q);
  const roles = Object.keys(config.authorization.roles);
  const body = html`${table<UserView>(`Users (${total})`, [
    { label: 'Username', cell: (u) => html`<a href="/admin/users/show?username=${encodeURIComponent(u.username)}">${u.username}</a>` },
    { label: 'Name', cell: (u) => u.displayName ?? '' },
    { label: 'Roles', cell: (u) => list(u.roles) },
    { label: 'Tenant', cell: (u) => u.tenant ?? '' },
    { label: 'Status', cell: (u) => (u.disabledAt ? html`<span class="deny">disabled</span>` : html`<span class="allow">active</span>`) },
    { label: 'Actions', cell: (u) => (u.disabledAt ? button('/users/enable', `Enable ${u.username}`, who, { username: u.username }) : button('/users/disable', `Disable ${u.username}`, who, { username: u.username }, true)) },
  ], items, 'No users yet.')}${pager('/users', { cursor: q.cursor }, next)}
<h2 id="new-user">Add a user</h2>
<form class="stack" method="post" action="/admin/users/add" aria-labelledby="new-user">${csrf(who)}
<label>Username <input name="username" required autocomplete="off"></label>
<label>Display name <input name="displayName" autocomplete="off"></label>
${checkboxes('roles', 'Roles', roles)}
<p class="muted">A password is generated and shown once.</p><button type="submit">Add user</button></form>`;
  return { title: 'Users', section: '/users', body };
}

export async function userView({ services, config, who, query }: ViewContext): Promise<View> {
  const { user: u, grants } = await services.users.show(validate(s.userQuery, query, 'query').username);
  const body = html`<dl class="record"><dt>Username</dt><dd>${u.username}</dd><dt>Name</dt><dd>${u.displayName ?? '—'}</dd><dt>Tenant</dt><dd>${u.tenant ?? '—'}</dd>
<dt>Roles</dt><dd>${list(u.roles)}</dd><dt>Status</dt><dd>${u.disabledAt ? 'disabled' : 'active'}</dd><dt>Created</dt><dd>${time(u.createdAt)}</dd><dt>Password set</dt><dd>${time(u.passwordChangedAt)}</dd></dl>
<h2>Keys</h2><p><a href="/admin/keys?subject=${encodeURIComponent(u.username)}">API keys of ${u.username}</a></p>
${table(`Grants of ${u.username}`, [
    { label: 'Grant', cell: (g: (typeof grants)[number]) => code(g.id) },
    { label: 'Client', cell: (g) => (g.clientId ? html`<a href="/admin/clients/show?id=${encodeURIComponent(g.clientId)}">${g.clientId}</a>` : '—') },
    { label: 'Scopes', cell: (g) => list(Object.values(g.resources).flat()) },
    { label: 'Expires', cell: (g) => time(g.expiresAt) },
    { label: 'Actions', cell: (g) => button('/tokens/revoke', 'Revoke grant', who, { kind: 'grant', value: g.id }, true) },
  ], grants, 'No grants: this user has not signed in to any app.')}
<h2>Act on this user</h2>
${u.disabledAt ? button('/users/enable', 'Enable', who, { username: u.username }) : button('/users/disable', 'Disable (revokes everything they hold)', who, { username: u.username }, true)}
${button('/tokens/revoke', 'Revoke all their tokens', who, { kind: 'user', value: u.username }, true)}
<form class="filters" method="post" action="/admin/users/roles">${csrf(who)}<input type="hidden" name="username" value="${u.username}">${checkboxes('roles', 'Roles', Object.keys(config.authorization.roles), u.roles)}<button type="submit">Set roles</button></form>
${button('/users/password', 'Reset password (a new one is shown once)', who, { username: u.username }, true)}`;
  return { title: `User ${u.username}`, section: '/users', body };
}

export async function clientsView({ services, who, query }: ViewContext): Promise<View> {
  const q = validate(s.clientsQuery, query, 'query');
  const { clients, idle } = await services.clients.list(q);
  const { items, next, total } = pageOf(clients, q);
  const body = html`<form class="filters" method="get" action="/admin/clients"><label class="check"><span><input type="checkbox" name="includeIdle" value="true"${q.includeIdle ? html` checked` : ''}> Also idle registrations (${idle} hidden)</span></label><button type="submit">Show</button></form>
${table(`OAuth clients (${total})`, [
    { label: 'Client', cell: (c: (typeof clients)[number]) => html`<a href="/admin/clients/show?id=${encodeURIComponent(c.client_id)}">${c.client_name ?? c.client_id}</a>` },
    { label: 'Kind', cell: (c) => c.kind },
    { label: 'Grant types', cell: (c) => list(c.grant_types) },
    { label: 'Live grants', cell: (c) => c.liveGrants },
    { label: 'Created', cell: (c) => time(c.createdAt) },
    { label: 'Actions', cell: (c) => button('/clients/revoke', 'Revoke', who, { id: c.client_id }, true) },
  ], items, 'No client in use.')}${pager('/clients', { includeIdle: q.includeIdle ? 'true' : undefined, cursor: q.cursor }, next)}`;
  return { title: 'OAuth clients', section: '/clients', body };
}

export async function clientView({ services, who, query }: ViewContext): Promise<View> {
  const { client: c, grants } = await services.clients.show(validate(s.idQuery, query, 'query').id);
  const body = html`<dl class="record"><dt>Client id</dt><dd>${code(c.client_id)}</dd><dt>Name</dt><dd>${c.client_name ?? '—'}</dd><dt>Kind</dt><dd>${c.kind}</dd>
<dt>Grant types</dt><dd>${list(c.grant_types)}</dd><dt>Redirect URIs</dt><dd>${list(c.redirect_uris)}</dd><dt>Authentication</dt><dd>${c.token_endpoint_auth_method}</dd><dt>Scope</dt><dd>${c.scope ?? '—'}</dd><dt>Created</dt><dd>${time(c.createdAt)}</dd></dl>
${table(`Grants (${grants.length})`, [
    { label: 'Grant', cell: (g: (typeof grants)[number]) => code(g.id) },
    { label: 'User', cell: (g) => g.user ?? '—' },
    { label: 'Expires', cell: (g) => time(g.expiresAt) },
  ], grants, 'No live grant.')}
${button('/clients/revoke', 'Revoke this client (registration, grants and tokens)', who, { id: c.client_id }, true)}`;
  return { title: `Client ${c.client_name ?? c.client_id}`, section: '/clients', body };
}

export async function sessionsView({ services, who, query }: ViewContext): Promise<View> {
  const q = validate(s.sessionsQuery, query, 'query');
  const { items, next, total } = pageOf(services.sessions.list(q), q);
  const body = html`<form class="filters" method="get" action="/admin/sessions" role="search" aria-label="Filter sessions">
<label>Upstream <input name="upstream" value="${q.upstream ?? ''}"></label><label>Subject <input name="subject" value="${q.subject ?? ''}"></label><button type="submit">Filter</button></form>
${table(`Live MCP sessions on this instance (${total})`, [
    { label: 'Upstream', cell: (x: (typeof items)[number]) => html`${x.upstream} <span class="muted">(${x.kind})</span>` },
    { label: 'Subject', cell: (x) => html`${x.subject}${x.tenant ? ` (${x.tenant})` : ''}` },
    { label: 'Client', cell: (x) => x.clientId ?? '—' },
    { label: 'Session', cell: (x) => code(x.id) },
    { label: 'Last active', cell: (x) => time(x.lastActiveAt) },
    { label: 'Actions', cell: (x) => button('/sessions/end', 'End', who, { upstream: x.upstream, id: x.id }, true) },
  ], items, 'No live session.')}${pager('/sessions', { upstream: q.upstream, subject: q.subject, cursor: q.cursor }, next)}`;
  return { title: 'Live sessions', section: '/sessions', body };
}
