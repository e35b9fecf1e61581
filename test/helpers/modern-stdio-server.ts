/**
 * A stdio MCP server built on the SDK 2.x packages (2026-07-28, and 2025-11-25 for clients that initialize),
 * for tests of stdio upstreams in both eras. Its tools: `echo`, `secret_tool` (to hide with allow-lists) and
 * `pid`, which answers with the child's process id, so a test can tell children apart.
 */
import { McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { z } from 'zod';

function build(): McpServer {
  const server = new McpServer({ name: 'warden-modern-stdio', version: '2.0.0' });
  server.registerTool('echo', { description: 'Echo the text', inputSchema: z.object({ text: z.string() }) }, async ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  server.registerTool('secret_tool', { description: 'Hidden by allow-lists', inputSchema: z.object({}) }, async () => ({
    content: [{ type: 'text', text: 'secret' }],
  }));
  server.registerTool('pid', { description: 'This process id', inputSchema: z.object({}) }, async () => ({
    content: [{ type: 'text', text: String(process.pid) }],
  }));
  return server;
}

// The SDK's dual-era stdio entry: 2026-07-28 requests as they come, and 2025-11-25 after an initialize.
serveStdio(build);
