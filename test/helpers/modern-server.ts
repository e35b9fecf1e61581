import { McpServer, inputRequired } from '@modelcontextprotocol/server';
import { z } from 'zod';

/**
 * The SDK 2.x server of the 2026-07-28 tests, the same over HTTP (modern.ts) and stdio (modern-stdio-server.ts):
 * `echo`, `secret_tool` (to hide with allow-lists), `ask` (two rounds of a multi round-trip request), `pid`
 * (the serving process, to tell children apart) and the resource `test://readme`.
 */
export function buildModernServer(): McpServer {
  const server = new McpServer({ name: 'warden-modern-upstream', version: '2.0.0' }, { capabilities: { resources: { subscribe: true, listChanged: true } } });
  server.registerTool('echo', { description: 'Echo the text', inputSchema: z.object({ text: z.string() }) }, async ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  server.registerTool('secret_tool', { description: 'Hidden by allow-lists', inputSchema: z.object({}) }, async () => ({
    content: [{ type: 'text', text: 'secret' }],
  }));
  // A multi round-trip tool: the first round asks for nothing but hands out state; the retry shows the state it got back.
  server.registerTool('ask', { description: 'Two rounds', inputSchema: z.object({}) }, async (_args, ctx) => {
    const state = ctx.mcpReq.requestState<string>();
    if (state === undefined) return inputRequired({ requestState: 'server-state-42' });
    return { content: [{ type: 'text', text: `got ${state}` }] };
  });
  server.registerTool('pid', { description: 'This process id', inputSchema: z.object({}) }, async () => ({
    content: [{ type: 'text', text: String(process.pid) }],
  }));
  server.registerResource('readme', 'test://readme', { mimeType: 'text/plain' }, async (uri) => ({
    contents: [{ uri: uri.href, text: 'read me' }],
  }));
  return server;
}
