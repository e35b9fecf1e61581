import { PRM_PREFIX } from '../resource/metadata.js';

/** The gateway's own fixed paths. */
export const PATHS = {
  health: '/healthz',
  ready: '/readyz',
  metrics: '/metrics',
  /** Public keys of the identity JWTs upstreams receive. */
  identityJwks: '/.well-known/jwks.json',
} as const;

/** One MCP endpoint: `/mcp/<upstream>`, or `/mcp` for the only upstream. */
export interface McpEndpoint {
  path: string;
  /** Its resource URL (RFC 8707 / RFC 9728): what tokens for it name as their audience. */
  url: string;
  upstream: string;
}

/** The one place that knows the shape of MCP endpoint URLs and of their RFC 9728 metadata URLs. */
export class McpRoutes {
  private readonly byPath = new Map<string, McpEndpoint>();

  constructor(base: string, upstreams: readonly string[]) {
    for (const upstream of upstreams) this.add(mcpPath(upstream), base, upstream);
    if (upstreams.length === 1) this.add('/mcp', base, upstreams[0]!);
  }

  private add(path: string, base: string, upstream: string): void {
    this.byPath.set(path, { path, url: `${base}${path}`, upstream });
  }

  endpoints(): McpEndpoint[] {
    return [...this.byPath.values()];
  }

  /** The endpoint at `path`, if there is one. */
  at(path: string): McpEndpoint | undefined {
    return this.byPath.get(path);
  }

  /** The endpoint whose RFC 9728 metadata lives at `path` (path-inserted, RFC 9728 §3.1). */
  metadataOf(path: string): McpEndpoint | undefined {
    return path.startsWith(PRM_PREFIX) ? this.byPath.get(path.slice(PRM_PREFIX.length)) : undefined;
  }

  /** For messages: where MCP is served. */
  describe(): string {
    return this.endpoints().map((e) => e.path).join(', ');
  }
}

export function mcpPath(upstream: string): string {
  return `/mcp/${upstream}`;
}
