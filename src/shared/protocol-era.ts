import type { JSONRPCMessage } from './jsonrpc.js';

/**
 * The two eras of the MCP protocol the gateway stands between (docs/protocol-eras.md). Up to 2025-11-25,
 * an `initialize` handshake opens a session (`Mcp-Session-Id`); from 2026-07-28 there are no sessions and
 * every request carries its protocol version in `_meta`, mirrored with its method and target into standard
 * HTTP headers that must agree with the body (SEP-2243).
 */
export type ProtocolEra = 'legacy' | 'modern';

export const MODERN_REVISION = '2026-07-28';
export const PROTOCOL_VERSION_META_KEY = 'io.modelcontextprotocol/protocolVersion';

/** Methods whose results 2026-07-28 makes cacheable (`ttlMs`, `cacheScope`: SEP-2549). */
export const CACHEABLE_METHODS: ReadonlySet<string> = new Set(['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'resources/read']);

/** True for a revision date of 2026-07-28 or later (revisions are ISO dates, so they sort as strings). */
export function isModernVersion(version: unknown): version is string {
  return typeof version === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(version) && version >= MODERN_REVISION;
}

/** The protocol version a message claims in `params._meta`, when it claims one. */
export function claimedVersion(message: JSONRPCMessage): unknown {
  const meta = (message as { params?: { _meta?: Record<string, unknown> } }).params?._meta;
  return meta && typeof meta === 'object' ? meta[PROTOCOL_VERSION_META_KEY] : undefined;
}

/**
 * The era of a POST body, as the SDK's own classifier has it: modern when a message claims a modern
 * version in `_meta`, or when the `MCP-Protocol-Version` header names one (then a missing claim is an error
 * the standard-headers step reports). An `initialize` without a claim is the legacy handshake.
 */
export function eraOf(messages: readonly JSONRPCMessage[], versionHeader: string | undefined): ProtocolEra {
  if (isModernVersion(versionHeader)) return 'modern';
  return messages.some((m) => isModernVersion(claimedVersion(m))) ? 'modern' : 'legacy';
}

/** Where `Mcp-Name` comes from, for the methods that require it. */
export function mcpNameOf(message: JSONRPCMessage): string | undefined {
  if (!('method' in message)) return undefined;
  const params = (message.params ?? {}) as Record<string, unknown>;
  const value = message.method === 'tools/call' || message.method === 'prompts/get' ? params.name
    : message.method === 'resources/read' ? params.uri : undefined;
  return typeof value === 'string' ? value : undefined;
}

export function requiresMcpName(method: string): boolean {
  return method === 'tools/call' || method === 'prompts/get' || method === 'resources/read';
}

const SENTINEL = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/;

/** A header value as SEP-2243 encodes it: plain when it is safe printable ASCII, else the Base64 sentinel. */
export function encodeHeaderValue(value: string): string {
  const plain = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(value) && !(value.startsWith('=?base64?') && value.endsWith('?='));
  return plain ? value : `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/** The value a header carries, Base64 sentinel decoded; undefined when the sentinel is malformed. */
export function decodeHeaderValue(value: string): string | undefined {
  if (!value.startsWith('=?base64?')) return value;
  const m = SENTINEL.exec(value);
  if (!m) return undefined;
  const bytes = Buffer.from(m[1]!, 'base64');
  const text = bytes.toString('utf8');
  // Base64 that does not round-trip, or bytes that are not UTF-8, carry no value anyone agreed on.
  return bytes.toString('base64').replace(/=+$/, '') === m[1]!.replace(/=+$/, '') && Buffer.from(text, 'utf8').equals(bytes) ? text : undefined;
}
