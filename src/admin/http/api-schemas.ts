import { z } from 'zod';
import { duration } from '../../config/durations.js';

/**
 * The input of every admin API route, as zod schemas: they validate requests and they are what the OpenAPI
 * document is generated from, so the two cannot drift apart. Query values arrive as text.
 */

const wholeNumber = (min: number, max: number) => z.string().regex(/^\d{1,15}$/, { message: 'expected a whole number' }).transform(Number).pipe(z.number().int().min(min).max(max));
const time = z.string().refine((v) => !Number.isNaN(Date.parse(v)), { message: 'expected a time such as 2026-12-03T08:00:00Z' }).transform((v) => Date.parse(v))
  .describe('an ISO 8601 time');
const flag = z.enum(['true', 'false']).transform((v) => v === 'true');
const name = (what: string) => z.string().trim().min(1, { message: `${what} must not be empty` }).max(256);
const names = z.array(z.string().min(1).max(128)).max(64);

/** Paging of lists: `cursor` from the previous page's `next`. */
export const paging = {
  limit: wholeNumber(1, 200).optional().describe('items per page (default 50)'),
  cursor: z.string().regex(/^\d{1,9}$/, { message: 'expected the `next` value of a previous page' }).optional().describe('where the page starts: the previous page\'s `next`'),
};

export const keysQuery = z.object({
  subject: z.string().max(256).optional(),
  tenant: z.string().max(256).optional(),
  includeInactive: flag.optional().describe('also revoked, expired and rotated keys'),
  ...paging,
}).strict();

export const newKeyBody = z.object({
  subject: name('subject').describe('who uses the key'),
  tenant: z.string().max(256).optional(),
  name: z.string().max(256).optional().describe('a label, e.g. where the key is used'),
  scopes: names.default([]).describe('from authorization.scopes (and `admin` for the admin API)'),
  roles: names.default([]).describe('from authorization.roles'),
  expiresIn: duration.optional().describe('lifetime; absent: the key does not expire'),
}).strict();

export const rotateBody = z.object({
  grace: duration.default(0).describe('how long the old key keeps working'),
  expiresIn: duration.optional().describe("the new key's lifetime from now; absent: it keeps the old key's expiry"),
}).strict();

export const newUserBody = z.object({
  username: name('username'),
  password: z.string().max(1024).optional().describe('absent: one is generated and returned once'),
  roles: names.default([]),
  tenant: z.string().max(256).optional(),
  displayName: z.string().max(256).optional(),
}).strict();

const username = name('username');
export const userQuery = z.object({ username }).strict();
export const rolesBody = z.object({ username, roles: names }).strict();
export const passwordBody = z.object({ username, password: z.string().max(1024).optional().describe('absent: one is generated and returned once') }).strict();
export const listQuery = z.object({ ...paging }).strict();
export const clientsQuery = z.object({ includeIdle: flag.optional().describe('also registrations that hold no live grant'), ...paging }).strict();
/** One thing by id (a key id, a client_id). */
export const idQuery = z.object({ id: name('id') }).strict();
export const grantsQuery = z.object({
  user: z.string().max(256).optional(),
  client: z.string().max(512).optional(),
  ...paging,
}).strict().refine((q) => (q.user === undefined) !== (q.client === undefined), { message: 'name exactly one of user or client' });
export const tokensBody = z.object({
  kind: z.enum(['user', 'client', 'grant']),
  value: name('value'),
}).strict();
export const endSessionBody = z.object({ upstream: name('upstream'), id: name('id').describe('the Mcp-Session-Id') }).strict();
export const sessionsQuery = z.object({ upstream: z.string().max(64).optional(), subject: z.string().max(256).optional(), ...paging }).strict();

export const auditQuery = z.object({
  subject: z.string().max(256).optional(),
  upstream: z.string().max(64).optional(),
  tool: z.string().max(512).optional().describe('the target: tool name, resource URI or prompt (exact)'),
  decision: z.enum(['allow', 'deny']).optional(),
  event: z.enum(['call', 'authentication', 'outcome', 'admin', 'oauth']).optional(),
  since: time.optional(),
  until: time.optional(),
  limit: wholeNumber(1, 500).optional().describe('records per page (default 50)'),
  cursor: z.string().regex(/^[A-Za-z0-9_-]{1,800}$/, { message: 'expected the `next` value of a previous page' }).optional().describe('the previous page\'s `next`: older records than it'),
}).strict();
export const exportQuery = z.object({ since: time.optional(), until: time.optional() }).strict();

export const signInBody = z.object({ username: z.string().max(256), password: z.string().max(1024) }).strict();
export const reauthBody = z.object({ password: z.string().max(1024) }).strict();

export const seqParam = wholeNumber(1, Number.MAX_SAFE_INTEGER);
export const recordQuery = z.object({
  instance: z.string().max(128).optional().describe("the chain (an instance's `audit.instance`); needed when several chains have a record with that number"),
}).strict();
