import type { GatewayError } from '../../shared/errors.js';
import type { AnswerFilter, HttpCaller, Outgoing } from '../pipeline/stage.js';

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
  sessionProblem(call: HttpCaller, owner: string): { error: GatewayError; reason: string } | undefined;
  /** Answers the call (POST, GET or DELETE), list answers through `answers`; resolves when the answer is complete. */
  handle(call: Outgoing, answers: AnswerFilter | undefined): Promise<void>;
  /** State for /readyz. */
  status(): Record<string, unknown>;
  /** Ends streams and children; in-flight requests have had their grace period already. */
  close(): Promise<void>;
}

/** Request headers of the MCP transport that pass to an upstream; nothing else of the caller's does. */
export const FORWARDED_REQUEST_HEADERS = ['accept', 'content-type', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id'] as const;

/** Response headers of the MCP transport that pass back to the caller. */
export const FORWARDED_RESPONSE_HEADERS = ['content-type', 'mcp-session-id', 'mcp-protocol-version', 'cache-control'] as const;
