import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PolicyRequest } from '../../../src/policy/cedar/index.js';

export const EXAMPLES = fileURLToPath(new URL('../../../examples/policies/', import.meta.url));
export const EXAMPLE_SOURCES = { policies: EXAMPLES, entities: join(EXAMPLES, 'entities.json') };

/** A policy request for a tool call with the defaults of the example tests (acme, Wednesday 10:00). */
export function toolCall(roles: string[], tool: string, changes: { upstream?: string; tenant?: string | null; arguments?: unknown; hour?: number; actor?: PolicyRequest['context']['actor']; listing?: boolean } = {}): PolicyRequest {
  const tenant = changes.tenant === undefined ? 'acme' : changes.tenant;
  return {
    principal: { type: 'User', subject: 'alice', ...(tenant !== null ? { tenant } : {}), roles, scopes: [], credentialKind: 'api_key' },
    action: 'call_tool',
    resource: { upstream: changes.upstream ?? 'acme', target: { kind: 'tool', name: tool } },
    context: {
      ...(changes.arguments !== undefined ? { arguments: changes.arguments } : {}),
      time: { hour: changes.hour ?? 10, minute: 0, weekday: 3, date: '2026-01-07' },
      ...(changes.actor ? { actor: changes.actor } : {}),
      actors: changes.actor ? [changes.actor.subject] : [],
      transport: 'http',
      listing: changes.listing ?? false,
    },
  };
}

/** A temporary folder with the given files; removed by the returned function. */
export function tempFiles(files: Record<string, string>): { dir: string; write(name: string, text: string): string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'warden-cedar-'));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  for (const [name, text] of Object.entries(files)) write(name, text);
  return { dir, write, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
