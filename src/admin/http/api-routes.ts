import type { z } from 'zod';
import { AdminError } from '../errors.js';
import * as s from './api-schemas.js';
import type { AdminIdentity } from './gate.js';
import { configSummary, generatedPassword, localPasswords, type ActingServices, type AdminBackend } from './services.js';

/**
 * Every route of the admin JSON API (under /admin/api): its input schemas, whether it takes something away
 * (then a console session must have proved its password recently), and what it does, through the admin
 * services. The OpenAPI document is generated from this table.
 */

export interface ApiCall<Q, B> {
  identity: AdminIdentity;
  services: ActingServices;
  backend: AdminBackend;
  params: Record<string, string>;
  query: Q;
  body: B;
}

export interface ApiAnswer {
  status?: number;
  body: unknown;
}

export interface ApiRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** With `{name}` parameters, e.g. `/keys/{id}`. */
  path: string;
  summary: string;
  tag: string;
  query?: z.ZodType;
  body?: z.ZodType;
  /** Takes something away: a console session needs a recent password (admin.reauthAfter). */
  destructive?: boolean;
  /** A secret is in the answer (shown this once). */
  secret?: boolean;
  run(call: ApiCall<unknown, unknown>): Promise<ApiAnswer>;
}

function route<Q extends z.ZodType = z.ZodUndefined, B extends z.ZodType = z.ZodUndefined>(def: Omit<ApiRoute, 'run' | 'query' | 'body'> & {
  query?: Q;
  body?: B;
  run(call: ApiCall<z.output<Q>, z.output<B>>): Promise<ApiAnswer>;
}): ApiRoute {
  return def as unknown as ApiRoute;
}

const DEFAULT_PAGE = 50;

/** One page of an in-memory list; `next` is where the following page starts. */
export function page<T>(items: T[], q: { limit?: number; cursor?: string }): { items: T[]; next?: string; total: number } {
  const start = q.cursor === undefined ? 0 : Number(q.cursor);
  const limit = q.limit ?? DEFAULT_PAGE;
  const slice = items.slice(start, start + limit);
  return { items: slice, total: items.length, ...(start + limit < items.length ? { next: String(start + limit) } : {}) };
}

const ok = (body: unknown, status = 200): ApiAnswer => ({ status, body });

export const API_ROUTES: ApiRoute[] = [
  // Keys
  route({ method: 'GET', path: '/keys', tag: 'keys', summary: 'List API keys (never the keys themselves)', query: s.keysQuery,
    run: async ({ services, query }) => ok(page(await services.keys.list(query), query)) }),
  route({ method: 'POST', path: '/keys', tag: 'keys', summary: 'Create an API key; the key is in this answer only', body: s.newKeyBody, secret: true,
    run: async ({ services, body }) => {
      const { key, view } = await services.keys.create({ ...body, ...(body.expiresIn !== undefined ? { expiresInMs: body.expiresIn } : {}) });
      return ok({ key, view }, 201);
    } }),
  route({ method: 'GET', path: '/keys/{id}', tag: 'keys', summary: 'Show one API key', run: async ({ services, params }) => ok(await services.keys.get(params.id!)) }),
  route({ method: 'POST', path: '/keys/{id}/rotate', tag: 'keys', summary: 'Replace a key; the old one works for the grace period', body: s.rotateBody, secret: true, destructive: true,
    run: async ({ services, params, body }) => ok(await services.keys.rotate(params.id!, body.grace, body.expiresIn), 201) }),
  route({ method: 'POST', path: '/keys/{id}/revoke', tag: 'keys', summary: 'Revoke a key: refused from the next request on', destructive: true,
    run: async ({ services, params }) => ok(await services.keys.revoke(params.id!)) }),

  // Users
  route({ method: 'GET', path: '/users', tag: 'users', summary: 'List users', query: s.listQuery, run: async ({ services, query }) => ok(page(await services.users.list(), query)) }),
  route({ method: 'POST', path: '/users', tag: 'users', summary: 'Add a user; a generated password is in this answer only', body: s.newUserBody, secret: true,
    run: async ({ services, body }) => {
      const password = body.password ?? generatedPassword();
      const user = await services.users.add({ ...body, password, passwordGenerated: body.password === undefined });
      return ok({ user, ...(body.password === undefined ? { password } : {}) }, 201);
    } }),
  // Usernames may hold '@', which the gateway's plain paths do not carry: the username goes in the query or body.
  route({ method: 'GET', path: '/users/show', tag: 'users', summary: 'Show a user and the grants they hold', query: s.userQuery,
    run: async ({ services, query }) => ok(await services.users.show(query.username)) }),
  route({ method: 'POST', path: '/users/disable', tag: 'users', summary: 'Disable a user: every grant, token and session goes too', body: s.userQuery, destructive: true,
    run: async ({ services, body }) => ok(await services.users.disable(body.username)) }),
  route({ method: 'POST', path: '/users/enable', tag: 'users', summary: 'Enable a user', body: s.userQuery, run: async ({ services, body }) => ok(await services.users.enable(body.username)) }),
  route({ method: 'POST', path: '/users/roles', tag: 'users', summary: 'Replace a user\'s roles (their grants are revoked)', body: s.rolesBody, destructive: true,
    run: async ({ services, body }) => ok(await services.users.setRoles(body.username, body.roles)) }),
  route({ method: 'POST', path: '/users/password', tag: 'users', summary: 'Reset a password (local passwords only); a generated one is in this answer only', body: s.passwordBody, secret: true, destructive: true,
    run: async ({ services, body, backend }) => {
      if (!localPasswords(backend.config)) throw new AdminError('conflict', 'local passwords are off: users sign in through auth.oauth, which is not configured');
      const password = body.password ?? generatedPassword();
      const result = await services.users.resetPassword(body.username, password, { generated: body.password === undefined });
      return ok({ ...result, ...(body.password === undefined ? { password } : {}) });
    } }),

  // OAuth clients, grants, tokens
  route({ method: 'GET', path: '/clients', tag: 'clients', summary: 'List OAuth clients (never a secret)', query: s.clientsQuery,
    run: async ({ services, query }) => {
      const { clients, idle } = await services.clients.list(query);
      return ok({ ...page(clients, query), idle });
    } }),
  // A client id may be a URL (a Client ID Metadata Document), which a plain path cannot carry: it goes in the query or body.
  route({ method: 'GET', path: '/clients/show', tag: 'clients', summary: 'Show a client and its grants', query: s.idQuery,
    run: async ({ services, query }) => ok(await services.clients.show(query.id)) }),
  route({ method: 'POST', path: '/clients/revoke', tag: 'clients', summary: 'Remove a client with its grants and tokens', body: s.idQuery, destructive: true,
    run: async ({ services, body }) => ok(await services.clients.revoke(body.id)) }),
  route({ method: 'GET', path: '/grants', tag: 'tokens', summary: 'List the grants of a user or a client', query: s.grantsQuery,
    run: async ({ services, query }) => ok(page(query.user !== undefined ? (await services.users.show(query.user)).grants : (await services.clients.show(query.client!)).grants, query)) }),
  route({ method: 'POST', path: '/tokens/revoke', tag: 'tokens', summary: 'Revoke the grants and tokens of a user, a client or one grant', body: s.tokensBody, destructive: true,
    run: async ({ services, body }) => ok(await services.tokens.revoke(body)) }),

  // Live sessions
  route({ method: 'GET', path: '/sessions', tag: 'sessions', summary: 'List live MCP sessions of this instance', query: s.sessionsQuery,
    run: async ({ services, query }) => ok(page(services.sessions.list(query), query)) }),
  // In the body: an HTTP upstream's session id may hold characters a plain path does not carry.
  route({ method: 'POST', path: '/sessions/end', tag: 'sessions', summary: 'End a live MCP session', body: s.endSessionBody, destructive: true,
    run: async ({ services, body }) => ok(await services.sessions.end(body.upstream, body.id)) }),

  // Audit
  route({ method: 'GET', path: '/audit', tag: 'audit', summary: 'Query the audit trail, newest first, a page at a time', query: s.auditQuery,
    run: async ({ services, query }) => {
      const { tool, limit, cursor, ...filter } = query;
      const result = await services.audit.page({ ...filter, ...(tool !== undefined ? { target: tool } : {}) }, { limit: limit ?? DEFAULT_PAGE, ...(cursor !== undefined ? { before: cursor } : {}) });
      return ok({ items: result.entries.map(entryBody), ...(result.next !== undefined ? { next: String(result.next) } : {}) });
    } }),
  route({ method: 'GET', path: '/audit/verify', tag: 'audit', summary: 'Verify the hash chain', run: async ({ services }) => ok(await services.audit.verify()) }),
  // /audit/export streams JSON lines; api.ts answers it (listed here for validation and the OpenAPI document).
  route({ method: 'GET', path: '/audit/export', tag: 'audit', summary: 'Export records as JSON lines (application/x-ndjson)', query: s.exportQuery, run: async () => ok(null) }),
  route({ method: 'GET', path: '/audit/{seq}', tag: 'audit', summary: 'One audit record (`instance` names the chain when several have that number)', query: s.recordQuery,
    run: async ({ services, params, query }) => {
      const seq = s.seqParam.safeParse(params.seq);
      if (!seq.success) throw new AdminError('invalid_input', 'seq: expected the record\'s number, a whole number from 1');
      return ok(entryBody(await services.audit.get(seq.data, query.instance)));
    } }),

  // Configuration
  route({ method: 'GET', path: '/config', tag: 'config', summary: 'What is configured and on (read-only; no secret)', run: async ({ backend }) => ok(configSummary(backend.config)) }),
];

function entryBody(entry: { row: { seq: number }; record: unknown }): unknown {
  return entry.record ?? { seq: entry.row.seq, unreadable: true };
}

/** The sign-in routes: answered before anyone is identified (api.ts), listed for the OpenAPI document. */
export const SESSION_ROUTES = [
  { method: 'POST', path: '/session', tag: 'session', summary: 'Sign in (username and password of a user holding an admin role); sets the session cookie', body: s.signInBody, public: true },
  { method: 'GET', path: '/session', tag: 'session', summary: 'Who is signed in, and the CSRF token changes must send (X-CSRF-Token)' },
  { method: 'DELETE', path: '/session', tag: 'session', summary: 'Sign out' },
  { method: 'POST', path: '/session/reauth', tag: 'session', summary: 'Prove the password again before destructive changes', body: s.reauthBody },
] as const;

/** The route for `method` and `path`, with its parameters; `pathKnown` tells a wrong method from an unknown path. */
export function matchRoute(method: string, path: string): { route?: ApiRoute; params: Record<string, string>; pathKnown: boolean } {
  let pathKnown = false;
  for (const r of API_ROUTES) {
    const params = matchPath(r.path, path);
    if (!params) continue;
    pathKnown = true;
    if (r.method === method) return { route: r, params, pathKnown };
  }
  return { params: {}, pathKnown };
}

function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    if (w.startsWith('{')) {
      if (got[i] === '') return undefined;
      params[w.slice(1, -1)] = got[i]!;
    } else if (w !== got[i]) return undefined;
  }
  return params;
}
