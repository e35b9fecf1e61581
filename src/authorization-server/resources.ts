/**
 * The protected resources the authorization server issues tokens for (RFC 8707): one URL per MCP endpoint,
 * as its RFC 9728 metadata names it. A token's audience is exactly one of
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

  /** `endpoints`: every resource URL and its upstream, as the gateway serves them; `sole`, the one a request without `resource` gets. */
  constructor(endpoints: readonly { url: string; upstream: string }[], scopesFor: (upstream: string) => string[], sole?: string) {
    for (const { url, upstream } of endpoints) this.byUrl.set(url, { url, upstream, scopes: scopesFor(upstream) });
    this.sole = sole;
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
