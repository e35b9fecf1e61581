import type { IncomingMessage, ServerResponse } from 'node:http';
import { matchRoute } from './api-routes.js';
import { queryOf, readJson, validate } from './body.js';
import { AdminHttpError } from './errors.js';
import type { AdminGate, RequestMeta } from './gate.js';
import { openApiDocument } from './openapi.js';
import { servicesFor, type AdminBackend } from './services.js';
import { exportQuery, reauthBody, signInBody } from './api-schemas.js';

/** The admin JSON API under /admin/api: `path` is what follows that prefix. */
export async function answerApi(req: IncomingMessage, res: ServerResponse, path: string, parts: { gate: AdminGate; backend: AdminBackend; meta: RequestMeta; base: string }): Promise<void> {
  const { gate, backend, meta } = parts;
  const method = req.method ?? 'GET';
  if (path === '/openapi.json' && method === 'GET') return json(res, 200, openApiDocument(parts.base));
  if (path === '/session') return session(req, res, method, parts);

  if (path === '/session/reauth' && method === 'POST') {
    const identity = await gate.identify(req, meta);
    await gate.checkCsrf(identity, header(req, 'x-csrf-token'), meta);
    await gate.reauthenticate(identity, validate(reauthBody, await readJson(req), 'body').password, meta);
    return json(res, 200, { reauthenticated: true });
  }
  const { route, params, pathKnown } = matchRoute(method, path);
  if (!route) {
    if (pathKnown) throw new AdminHttpError('method_not_allowed', `${method} is not allowed on /admin/api${path}; see /admin/api/openapi.json`);
    throw new AdminHttpError('not_found', `No admin API route at /admin/api${path.slice(0, 200)}; see /admin/api/openapi.json`);
  }
  const identity = await gate.identify(req, meta);
  if (method !== 'GET') await gate.checkCsrf(identity, header(req, 'x-csrf-token'), meta);
  const query = route.query ? validate(route.query, queryOf(req), 'query') : undefined;
  const body = route.body ? validate(route.body, await readJson(req), 'body') : undefined;
  if (route.destructive) gate.checkRecent(identity);
  const services = servicesFor(backend, identity, meta.requestId);
  if (route.path === '/audit/export') {
    const window = validate(exportQuery, queryOf(req), 'query');
    res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store', 'content-disposition': 'attachment; filename="audit.jsonl"' });
    for await (const entries of services.audit.all(window)) {
      for (const e of entries) res.write(`${e.row.body}\n`);
    }
    res.end();
    return;
  }
  const answer = await route.run({ identity, services, backend, params, query, body });
  json(res, answer.status ?? 200, answer.body);
}

/** Sign-in, who is signed in, sign-out. */
async function session(req: IncomingMessage, res: ServerResponse, method: string, parts: { gate: AdminGate; meta: RequestMeta }): Promise<void> {
  const { gate, meta } = parts;
  if (method === 'POST') {
    const { username, password } = validate(signInBody, await readJson(req), 'body');
    const { token, session: s } = await gate.signIn(username, password, meta);
    res.setHeader('set-cookie', gate.cookie(token));
    return json(res, 200, { subject: s.subject, csrf: s.csrf, expiresAt: new Date(s.expiresAt).toISOString() });
  }
  const identity = await gate.identify(req, meta);
  if (method === 'GET') {
    const s = identity.session;
    return json(res, 200, { subject: identity.subject, via: identity.via, ...(s ? { csrf: s.csrf, authenticatedAt: new Date(s.authAt).toISOString(), expiresAt: new Date(s.expiresAt).toISOString() } : {}) });
  }
  if (method === 'DELETE') {
    await gate.checkCsrf(identity, header(req, 'x-csrf-token'), meta);
    await gate.signOut(req);
    res.setHeader('set-cookie', gate.clearCookie());
    return json(res, 200, { signedOut: true });
  }
  throw new AdminHttpError('method_not_allowed', `${method} is not allowed on /admin/api/session: POST signs in, GET tells who is signed in, DELETE signs out`);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}
