/** MCP requests and answer checks for the load loop. */
import type { Pool } from 'undici';

export const MCP_PROTOCOL_VERSION = '2025-06-18';

/** Headers of a Streamable HTTP POST from an MCP client. */
export const MCP_POST_HEADERS: Record<string, string> = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': MCP_PROTOCOL_VERSION,
};

/** A `tools/call` JSON-RPC request body. */
export function toolCallBody(id: number, name: string, args: Record<string, unknown>): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });
}

/** Cheap per-answer check for the load loop: 200 and a JSON-RPC result (not an error). */
export function expectJsonRpcResult(status: number, text: string): string | undefined {
  if (status !== 200) return `HTTP ${status}: ${text.slice(0, 200)}`;
  if (!text.includes('"result"')) return `no result: ${text.slice(0, 200)}`;
  return undefined;
}

/** Full check of one answer before a run: a JSON (not SSE) JSON-RPC result whose first text is `expected`. */
export async function verifyEchoCall(pool: Pool, path: string, expected: string, headers: Record<string, string> = {}): Promise<void> {
  const res = await pool.request({ path, method: 'POST', headers: { ...MCP_POST_HEADERS, ...headers }, body: toolCallBody(1, 'echo', { text: expected }) });
  const text = await res.body.text();
  const type = String(res.headers['content-type'] ?? '');
  if (res.statusCode !== 200 || !type.startsWith('application/json')) {
    throw new Error(`${path}: expected 200 application/json, got ${res.statusCode} ${type}: ${text.slice(0, 300)}`);
  }
  const answer = JSON.parse(text) as { id?: unknown; result?: { content?: { type?: string; text?: string }[] } };
  if (answer.id !== 1 || answer.result?.content?.[0]?.text !== expected) {
    throw new Error(`${path}: unexpected answer ${text.slice(0, 300)}`);
  }
}

/** The `verify` and `request` parts of a run plan that calls the echo tool of each scenario's URL. */
export function echoCallPlan(text: string) {
  return {
    verify: (pool: Pool, s: { url: string; headers?: Record<string, string> }) => verifyEchoCall(pool, new URL(s.url).pathname, text, s.headers),
    request: (s: { url: string; headers?: Record<string, string> }) => ({
      path: new URL(s.url).pathname,
      headers: { ...MCP_POST_HEADERS, ...s.headers },
      body: (seq: number) => toolCallBody(seq, 'echo', { text }),
      check: expectJsonRpcResult,
    }),
  };
}
