import { z } from 'zod';
import { API_ROUTES, SESSION_ROUTES, type ApiRoute } from './api-routes.js';

/**
 * The OpenAPI 3.1 document of the admin API, generated from the same route table and zod schemas that
 * validate requests (OpenAPI 3.1 uses JSON Schema 2020-12, which zod emits).
 */
export function openApiDocument(serverUrl: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  type Described = Pick<ApiRoute, 'method' | 'path' | 'tag' | 'summary' | 'query' | 'body' | 'destructive' | 'secret'> & { public?: boolean };
  const routes: Described[] = [...SESSION_ROUTES, ...API_ROUTES];
  for (const r of routes) {
    const parameters: unknown[] = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (r.query) {
      const schema = jsonSchema(r.query) as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, prop] of Object.entries(schema.properties ?? {})) {
        parameters.push({ name, in: 'query', required: schema.required?.includes(name) ?? false, schema: prop });
      }
    }
    const notes = [r.destructive ? 'Destructive: a console session must have proved its password within admin.reauthAfter.' : '', r.secret ? 'The answer holds a secret shown this once.' : ''].filter(Boolean).join(' ');
    (paths[`/admin/api${r.path}`] ??= {})[r.method.toLowerCase()] = {
      tags: [r.tag],
      summary: r.summary,
      ...(notes ? { description: notes } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(r.body) } } } } : {}),
      ...(r.public ? { security: [] } : {}),
      responses: {
        '2XX': { description: 'Done', content: { [r.path === '/audit/export' ? 'application/x-ndjson' : 'application/json']: {} } },
        default: { description: 'Refused', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'mcp-warden admin API', version: '1', description: 'Keys, users, OAuth clients, tokens, live sessions and the audit trail. Changes made with a console session send X-CSRF-Token (from GET /admin/api/session).' },
    servers: [{ url: serverUrl }],
    security: [{ apiKey: [] }, { session: [] }],
    paths,
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'An API key holding scope admin (wdn_…)' },
        session: { type: 'apiKey', in: 'cookie', name: 'warden_admin', description: 'A console sign-in (POST /admin/api/session)' },
      },
      schemas: {
        Error: { type: 'object', required: ['error', 'message'], properties: { error: { type: 'string', description: 'a stable code' }, message: { type: 'string' } } },
      },
    },
  };
}

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}
