import type { JSONRPCRequest } from '../shared/jsonrpc.js';
import { normaliseResourceUri } from './resource-uri.js';

export type TargetKind = 'tool' | 'resource' | 'prompt';

/** What a request acts on: the tool, resource or prompt that authorization decides about. */
export interface McpTarget {
  kind: TargetKind;
  /** For resources, the URI in its RFC 3986 normal form (`resource-uri.ts`): what is decided on and forwarded. */
  name: string;
  /** Set when a resource URI cannot be normalised unambiguously: why. Such a target is refused, never matched. */
  invalid?: string;
}

/** The list methods whose answers are filtered to what the caller may use, and the kind each lists. */
export const LIST_METHODS: Readonly<Record<string, { kind: TargetKind; field: string; key: string }>> = {
  'tools/list': { kind: 'tool', field: 'tools', key: 'name' },
  'prompts/list': { kind: 'prompt', field: 'prompts', key: 'name' },
  'resources/list': { kind: 'resource', field: 'resources', key: 'uri' },
  'resources/templates/list': { kind: 'resource', field: 'resourceTemplates', key: 'uriTemplate' },
};

/**
 * The target of a request, or undefined for methods that act on no named thing (initialize, ping, lists).
 * Malformed params yield an empty name, which no allow-list entry matches but `*`, so they fail closed.
 */
export function targetOf(request: Pick<JSONRPCRequest, 'method' | 'params'>): McpTarget | undefined {
  const params = (request.params ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  switch (request.method) {
    case 'tools/call':
      return { kind: 'tool', name: str(params.name) };
    case 'prompts/get':
      return { kind: 'prompt', name: str(params.name) };
    case 'resources/read':
    case 'resources/subscribe':
    case 'resources/unsubscribe':
      return resourceTarget(str(params.uri));
    case 'completion/complete': {
      const ref = (params.ref ?? {}) as Record<string, unknown>;
      if (ref.type === 'ref/prompt') return { kind: 'prompt', name: str(ref.name) };
      return resourceTarget(str(ref.uri));
    }
    default:
      return undefined;
  }
}

export function resourceTarget(uri: string): McpTarget {
  const normal = normaliseResourceUri(uri);
  return normal.ok ? { kind: 'resource', name: normal.uri } : { kind: 'resource', name: uri, invalid: normal.why };
}

/**
 * Puts a resource target's normal form back into the request, so that the upstream resolves what was decided
 * on. Requests of other methods, and URIs already in normal form, are left as they are.
 */
export function forwardTarget(request: Pick<JSONRPCRequest, 'method' | 'params'>, target: McpTarget): void {
  if (target.kind !== 'resource' || target.invalid) return;
  const params = request.params as Record<string, unknown> | undefined;
  if (!params) return;
  const holder = request.method === 'completion/complete' ? params.ref as Record<string, unknown> | undefined : params;
  if (holder && typeof holder.uri === 'string' && holder.uri !== target.name) holder.uri = target.name;
}
