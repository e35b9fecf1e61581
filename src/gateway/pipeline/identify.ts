import { isJSONRPCRequest, type JSONRPCMessage } from '../../shared/jsonrpc.js';
import { IDENTITY_META_KEY, principalClaims, type IdentityTokenSigner } from '../../credentials/index.js';
import type { UpstreamConfig } from '../../config/index.js';
import type { Decided, HttpCaller, Outgoing } from './stage.js';

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * Part of forwarding: how one upstream learns who is calling, without ever seeing the caller's credential —
 * a signed JWT header for HTTP upstreams, `params._meta["dev.mcp-warden/principal"]` for stdio children
 * (docs/identity.md). A value a caller put under that `_meta` key is removed first, for every upstream, so
 * it cannot be forged.
 */
export class UpstreamIdentity {
  private readonly header: string | undefined;
  private readonly audience: string | undefined;
  private readonly ttl: number;
  private readonly identify: boolean;

  constructor(
    private readonly upstream: UpstreamConfig,
    /** Undefined with `auth: none`: there is no identity to pass, only forged values to strip. */
    private readonly signer: IdentityTokenSigner | undefined,
  ) {
    const identity = upstream.identity;
    this.header = identity && upstream.url ? identity.header.toLowerCase() : undefined;
    this.audience = identity && upstream.url ? identity.audience ?? upstream.url : undefined;
    this.ttl = identity ? identity.ttl : 0;
    this.identify = signer !== undefined && identity !== false;
  }

  async attach(call: Decided<HttpCaller>): Promise<Outgoing> {
    stripForgedIdentity(call.messages);
    if (this.upstream.command) {
      if (this.identify) {
        const claims = principalClaims(call.principal);
        for (const m of call.messages) if (isJSONRPCRequest(m)) setMeta(m, claims);
      }
      return { ...call, upstreamHeaders: NO_HEADERS };
    }
    const upstreamHeaders = this.identify && this.header && this.audience
      ? { [this.header]: await this.signer!.sign(call.principal, this.audience, this.ttl) }
      : NO_HEADERS;
    return { ...call, upstreamHeaders };
  }
}

function setMeta(request: Extract<JSONRPCMessage, { method: string; id: unknown }>, claims: unknown): void {
  const params = (request.params ??= {}) as { _meta?: Record<string, unknown> };
  params._meta = { ...params._meta, [IDENTITY_META_KEY]: claims };
}

/** Removes caller-sent values under the identity key. */
function stripForgedIdentity(messages: readonly JSONRPCMessage[]): void {
  for (const m of messages) {
    const meta = (m as { params?: { _meta?: Record<string, unknown> } }).params?._meta;
    if (meta && typeof meta === 'object' && Object.hasOwn(meta, IDENTITY_META_KEY)) delete meta[IDENTITY_META_KEY];
  }
}
