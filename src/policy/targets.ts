import type { JSONRPCRequest } from '../shared/jsonrpc.js';

export type TargetKind = 'tool' | 'resource' | 'prompt';

/** What a request acts on: the tool, resource or prompt that authorization decides about. */
export interface McpTarget {
  kind: TargetKind;
  name: string;
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
      return { kind: 'resource', name: str(params.uri) };
    case 'completion/complete': {
      const ref = (params.ref ?? {}) as Record<string, unknown>;
      if (ref.type === 'ref/prompt') return { kind: 'prompt', name: str(ref.name) };
      return { kind: 'resource', name: str(ref.uri) };
    }
    default:
      return undefined;
  }
}
