import type { Principal } from '../shared/principal.js';
import { isJSONRPCRequest, type JSONRPCMessage } from '../shared/jsonrpc.js';
import { IDENTITY_META_KEY, principalClaims, type IdentityTokenSigner } from '../credentials/index.js';
import type { UpstreamConfig } from '../config/index.js';
import type { Exchange } from './exchange.js';

/**
 * How one upstream learns who is calling, without ever seeing the caller's credential: a signed JWT header
 * for HTTP upstreams, `params._meta["dev.mcp-warden/principal"]` for stdio children (docs/identity.md).
 * A value a caller put under that `_meta` key is removed first, for every upstream, so it cannot be forged.
 */
export class UpstreamIdentity {
  private readonly header: string | undefined;
  private readonly audience: string | undefined;
  private readonly ttl: number;

  constructor(
    private readonly upstream: UpstreamConfig,
    /** Undefined with `auth: none`: there is no identity to pass, only forged values to strip. */
    private readonly signer: IdentityTokenSigner | undefined,
  ) {
    const identity = upstream.identity;
    this.header = identity && upstream.url ? identity.header.toLowerCase() : undefined;
    this.audience = identity && upstream.url ? identity.audience ?? upstream.url : undefined;
    this.ttl = identity ? identity.ttl : 0;
  }

  /** Adds the identity to the exchange before it is forwarded. */
  async attach(ex: Exchange): Promise<void> {
    const messages = ex.messages ?? [];
    const forged = stripForgedIdentity(messages);
    const principal = ex.principal;
    const identify = this.signer !== undefined && principal !== undefined && this.upstream.identity !== false;
    if (this.upstream.command) {
      if (identify) {
        const claims = principalClaims(principal);
        for (const m of messages) if (isJSONRPCRequest(m)) setMeta(m, claims);
      }
      return;
    }
    // HTTP: the body is forwarded as the caller sent it, unless a forged value had to come out of it.
    if (forged) ex.body = Buffer.from(JSON.stringify(ex.batch ? messages : messages[0]));
    if (identify && this.header && this.audience) {
      ex.upstreamHeaders = { ...ex.upstreamHeaders, [this.header]: await this.signer!.sign(principal, this.audience, this.ttl) };
    }
  }
}

function setMeta(request: Extract<JSONRPCMessage, { method: string; id: unknown }>, claims: unknown): void {
  const params = (request.params ??= {}) as { _meta?: Record<string, unknown> };
  params._meta = { ...params._meta, [IDENTITY_META_KEY]: claims };
}

/** Removes caller-sent values under the identity key; true when there was one. */
function stripForgedIdentity(messages: JSONRPCMessage[]): boolean {
  let found = false;
  for (const m of messages) {
    const meta = (m as { params?: { _meta?: Record<string, unknown> } }).params?._meta;
    if (meta && typeof meta === 'object' && Object.hasOwn(meta, IDENTITY_META_KEY)) {
      delete meta[IDENTITY_META_KEY];
      found = true;
    }
  }
  return found;
}

/** Who owns an MCP session: the same user (tenant + subject, and OAuth client when there is one), whichever key they use. */
export function sessionOwner(principal: Principal | undefined): string {
  if (!principal) return '';
  return JSON.stringify([principal.tenant ?? '', principal.subject, principal.clientId ?? '']);
}
