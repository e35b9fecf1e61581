/**
 * The protected resources the authorization server issues tokens for (RFC 8707): one URL per upstream, as
 * its RFC 9728 metadata names it, plus `/mcp` for the only upstream. A token's audience is exactly one of
 * them, so a token for upstream A is refused at upstream B.
 */
export interface ResourceEntry {
  url: string;
  upstream: string;
  /** The scopes that apply to this upstream: what a token for it may carry. */
  scopes: string[];
}

export class ResourceCatalog {
  private readonly byUrl = new Map<string, ResourceEntry>();
  /** Asked on every authenticated MCP request: built once. */
  private readonly byUpstream = new Map<string, string[]>();
  private readonly sole: string | undefined;

  constructor(base: string, upstreams: readonly string[], scopesFor: (upstream: string) => string[]) {
    for (const upstream of upstreams) {
      const scopes = scopesFor(upstream);
      const url = `${base}/mcp/${upstream}`;
      this.byUrl.set(url, { url, upstream, scopes });
    }
    if (upstreams.length === 1) {
      const upstream = upstreams[0]!;
      this.sole = `${base}/mcp`;
      this.byUrl.set(this.sole, { url: this.sole, upstream, scopes: scopesFor(upstream) });
    }
    for (const { url, upstream } of this.byUrl.values()) this.byUpstream.set(upstream, [...(this.byUpstream.get(upstream) ?? []), url]);
  }

  get(url: string): ResourceEntry | undefined {
    return this.byUrl.get(url);
  }

  urls(): string[] {
    return [...this.byUrl.keys()];
  }

  /** Every URL that names `upstream` (its own, and /mcp when it is the only one). */
  urlsOf(upstream: string): readonly string[] {
    return this.byUpstream.get(upstream) ?? [];
  }

  allScopes(): string[] {
    return [...new Set([...this.byUrl.values()].flatMap((r) => r.scopes))].sort();
  }

  /** The resource a request without `resource` gets: the only upstream, or none. */
  defaultResource(): string | undefined {
    return this.sole;
  }
}
