import { Html, html } from '../../../shared/html.js';

export { Html, html };

export interface Identity {
  subject: string;
  csrf: string | undefined;
}

export const SECTIONS = [
  ['/', 'Overview'], ['/keys', 'Keys'], ['/users', 'Users'], ['/clients', 'Clients'], ['/sessions', 'Sessions'], ['/audit', 'Audit'], ['/scopes', 'Scopes'],
] as const;

export interface PageInput {
  title: string;
  /** The nav section (path) this page belongs to. */
  section?: string;
  who?: Identity;
  notice?: string;
  error?: string;
  body: Html;
}

/** A whole page: skip link, navigation, the signed-in administrator, a notice or an error, the content. */
export function page({ title, section, who, notice, error, body }: PageInput): string {
  const nav = who ? html`<nav aria-label="Console sections"><ul>${SECTIONS.map(([path, label]) => html`<li><a href="/admin${path === '/' ? '' : path}"${section === path ? new Html(' aria-current="page"') : ''}>${label}</a></li>`)}</ul></nav>` : '';
  const account = who ? html`<form class="signout" method="post" action="/admin/logout"><input type="hidden" name="csrf" value="${who.csrf}"><span>Signed in as <strong>${who.subject}</strong></span> <button type="submit">Sign out</button></form>` : '';
  return `<!doctype html>${html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title} · warden admin</title><link rel="stylesheet" href="/admin/style.css"></head>
<body><a class="skip" href="#main">Skip to content</a><header><p class="brand">warden admin</p>${account}${nav}</header>
<main id="main" tabindex="-1"><h1>${title}</h1>${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}${error ? html`<p class="error" role="alert">${error}</p>` : ''}${body}</main></body></html>`.text}`;
}

export interface Column<T> {
  label: string;
  cell(row: T): unknown;
}

/** A table with a caption, a header row and an empty state; it scrolls sideways on a narrow screen. */
export function table<T>(caption: string, columns: Column<T>[], rows: T[], empty: string): Html {
  if (rows.length === 0) return html`<p class="empty">${empty}</p>`;
  return html`<div class="table" role="region" aria-label="${caption}" tabindex="0"><table><caption>${caption}</caption><thead><tr>${columns.map((c) => html`<th scope="col">${c.label}</th>`)}</tr></thead>
<tbody>${rows.map((r) => html`<tr>${columns.map((c) => html`<td>${c.cell(r)}</td>`)}</tr>`)}</tbody></table></div>`;
}

/** "Next page" and "first page" links that keep the other query parameters. */
export function pager(path: string, query: Record<string, string | undefined>, next: string | undefined): Html {
  const link = (cursor: string | undefined) => {
    const params = new URLSearchParams(Object.entries({ ...query, cursor }).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
    const q = params.toString();
    return `/admin${path}${q ? `?${q}` : ''}`;
  };
  const parts = [query.cursor ? html`<a href="${link(undefined)}">First page</a>` : '', next ? html`<a href="${link(next)}" rel="next">Next page</a>` : ''];
  return parts.some(Boolean) ? html`<nav class="pager" aria-label="Pages">${parts}</nav>` : html``;
}

/** A one-button form that posts `fields` with the session's CSRF token. */
export function button(action: string, label: string, who: Identity, fields: Record<string, string> = {}, danger = false): Html {
  return html`<form class="inline" method="post" action="/admin${action}"><input type="hidden" name="csrf" value="${who.csrf}">${Object.entries(fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}<button type="submit"${danger ? new Html(' class="danger"') : ''}>${label}</button></form>`;
}

export function time(ms: number | string | null | undefined): Html {
  if (ms === null || ms === undefined) return html`<span class="muted">—</span>`;
  const d = new Date(ms);
  return html`<time datetime="${d.toISOString()}">${d.toISOString().replace('T', ' ').slice(0, 19)}</time>`;
}

export function list(values: readonly string[]): Html {
  return values.length ? html`${values.join(', ')}` : html`<span class="muted">none</span>`;
}
