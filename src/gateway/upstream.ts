import type { Exchange } from './exchange.js';

/**
 * Where `forward`, the last pipeline step, sends an exchange. The caller has already authenticated,
 * authorized, rate-limited and audited it; an upstream only moves bytes and MCP sessions.
 */
export interface Upstream {
  readonly name: string;
  readonly kind: 'http' | 'stdio';
  /** Answers the exchange (POST, GET or DELETE); resolves when the answer is complete. */
  handle(exchange: Exchange): Promise<void>;
  /** State for /readyz. */
  status(): Record<string, unknown>;
  /** Ends streams and children; in-flight requests have had their grace period already. */
  close(): Promise<void>;
}

/** Request headers of the MCP transport that pass to an upstream; nothing else of the caller's does. */
export const FORWARDED_REQUEST_HEADERS = ['accept', 'content-type', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id'] as const;

/** Response headers of the MCP transport that pass back to the caller. */
export const FORWARDED_RESPONSE_HEADERS = ['content-type', 'mcp-session-id', 'mcp-protocol-version', 'cache-control'] as const;
