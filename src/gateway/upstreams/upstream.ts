import type { GatewayError } from '../../shared/errors.js';
import type { AnswerFilter, HttpCaller, Outgoing } from '../pipeline/stage.js';
import { encodeHeaderValue, mcpNameOf, requiresMcpName } from '../../shared/protocol-era.js';

/**
 * Where the forward step sends a call. The pipeline has already authenticated, authorized, rate-limited and
 * audited it; an upstream only moves bytes and MCP sessions.
 */
export interface Upstream {
  readonly name: string;
  readonly kind: 'http' | 'stdio';
  /**
   * Why this call may not use the session it names (or must name one); undefined when it may. `error` is
   * what the caller gets (it never tells another principal's session from an unknown one); `reason` is
   * what the audit record says.
   */
  sessionProblem(call: HttpCaller, owner: string): SessionProblem | undefined | Promise<SessionProblem | undefined>;
  /** Answers the call (POST, GET or DELETE), list answers through `answers`; resolves when the answer is complete. */
  handle(call: Outgoing, answers: AnswerFilter | undefined): Promise<void>;
  /** The MCP sessions this instance holds for callers (the admin console lists them). */
  liveSessions(): LiveSession[];
  /** Ends one session as an administrator asked: its owner gets 404 next and initializes again. False when there is none. */
  endLiveSession(id: string): Promise<boolean>;
  /** State for /readyz. */
  status(): Record<string, unknown>;
  /** Ends streams and children; in-flight requests have had their grace period already. */
  close(): Promise<void>;
}

export type SessionProblem = { error: GatewayError; reason: string };

/** A live MCP session: who opened it, and when it was last used (epoch ms). */
export interface LiveSession {
  id: string;
  owner: SessionOwnerView;
  lastActiveAt: number;
}

export interface SessionOwnerView {
  subject: string;
  tenant: string | null;
  clientId: string | null;
}

/**
 * Request headers of the MCP transport that pass to an upstream; nothing else of the caller's does, but the
 * `Mcp-Param-*` headers of 2026-07-28 (tool arguments mirrored for intermediaries; the server checks them
 * against the body). `Mcp-Method` and `Mcp-Name` are not copied but written from the body as forwarded
 * (`mirroredHeaders`), so they agree with it also where the gateway normalised a target.
 */
export const FORWARDED_REQUEST_HEADERS = ['accept', 'content-type', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id'] as const;
const SESSION_HEADERS: ReadonlySet<string> = new Set(['mcp-session-id', 'last-event-id']);

/** The caller's transport headers an upstream gets for `call`. */
export function forwardedHeaders(call: Outgoing): Record<string, string> {
  const headers: Record<string, string> = {};
  const modern = call.era === 'modern';
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = call.req.headers[name];
    if (typeof value === 'string' && !(modern && SESSION_HEADERS.has(name))) headers[name] = value;
  }
  const raw = call.req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name.startsWith('mcp-param-')) headers[name] = raw[i + 1]!;
  }
  return Object.assign(headers, mirroredHeaders(call));
}

/** `Mcp-Method` and `Mcp-Name` of a 2026-07-28 request, from its body as forwarded. */
function mirroredHeaders(call: Outgoing): Record<string, string> {
  const message = call.messages[0];
  if (call.era !== 'modern' || call.batch || !message || !('method' in message)) return {};
  const name = mcpNameOf(message);
  return { 'mcp-method': message.method, ...(name !== undefined && requiresMcpName(message.method) ? { 'mcp-name': encodeHeaderValue(name) } : {}) };
}

/** Response headers of the MCP transport that pass back to the caller. */
export const FORWARDED_RESPONSE_HEADERS = ['content-type', 'mcp-session-id', 'mcp-protocol-version', 'cache-control'] as const;
