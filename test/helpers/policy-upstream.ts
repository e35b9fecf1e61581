import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

/** The tools the example policies (examples/policies) are written for. */
export const POLICY_TOOLS = ['notes_search', 'notes_get', 'notes_create', 'refund'] as const;

export interface PolicyUpstream {
  url: string;
  /** Tool calls that reached the upstream, by name, with their arguments. */
  calls: { name: string; args: unknown }[];
  close(): Promise<void>;
}

/** A stateless SDK server (JSON answers) with the example policies' tools; several gateway upstreams may share it. */
export async function startPolicyUpstream(): Promise<PolicyUpstream> {
  const calls: PolicyUpstream['calls'] = [];
  const build = () => {
    const server = new McpServer({ name: 'policy-upstream', version: '1.0.0' });
    const answer = (name: string) => async (args: unknown) => {
      calls.push({ name, args });
      return { content: [{ type: 'text' as const, text: `${name} done` }] };
    };
    server.registerTool('notes_search', { inputSchema: { query: z.string().optional() } }, answer('notes_search'));
    server.registerTool('notes_get', { inputSchema: { id: z.string().optional() } }, answer('notes_get'));
    server.registerTool('notes_create', { inputSchema: { text: z.string().optional() } }, answer('notes_create'));
    server.registerTool('refund', { inputSchema: { amount: z.union([z.number(), z.string()]).optional() } }, answer('refund'));
    return server;
  };
  const http = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    const mcp = build();
    res.on('close', () => {
      void transport.close();
      void mcp.close();
    });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, text ? JSON.parse(text) : undefined);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    calls,
    close: () => new Promise((resolve) => {
      http.closeAllConnections();
      http.close(() => resolve());
    }),
  };
}

/**
 * An IANA zone (Etc/GMT±N) in which the local hour is now `hour` (±1 near the turn of an hour), so a test can put
 * the gateway inside or outside office hours without touching its clock.
 */
export function zoneWhereHourIs(hour: number, now = new Date()): string {
  let offset = (hour - now.getUTCHours() + 24) % 24;
  if (offset > 14) offset -= 24;
  // Etc/GMT's sign is POSIX's: Etc/GMT-5 is five hours ahead of UTC.
  return offset === 0 ? 'UTC' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
}
