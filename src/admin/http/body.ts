import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { AdminHttpError } from './errors.js';

const MAX_BODY_BYTES = 64 * 1024;

async function readBody(req: IncomingMessage, type: RegExp, expected: string): Promise<string> {
  if (!type.test(String(req.headers['content-type'] ?? ''))) throw new AdminHttpError('unsupported_media_type', `Send the body as ${expected}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new AdminHttpError('payload_too_large', `The body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req, /^application\/json\b/i, 'application/json');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new AdminHttpError('invalid_input', 'The body is not valid JSON');
  }
}

export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new URLSearchParams(await readBody(req, /^application\/x-www-form-urlencoded\b/i, 'a form (application/x-www-form-urlencoded)'));
}

/** The query string as an object (a repeated name: the last value). */
export function queryOf(req: IncomingMessage): Record<string, string> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? {} : Object.fromEntries(new URLSearchParams(url.slice(q + 1)));
}

/** `value` as `schema` says, or 400 naming each field that is wrong. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, where: 'query' | 'body'): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.slice(0, 5).map((i) => `${[where, ...i.path.map(String)].join('.')}: ${i.message}`);
  throw new AdminHttpError('invalid_input', `Invalid ${where}: ${problems.join('; ')}`);
}
