/**
 * A stdio MCP server for tests of the stdio identity carrier: its one tool `whoami` answers with what the
 * gateway put in the request's `params._meta` under IDENTITY_META_KEY (JSON null when nothing was there).
 * Started by whoamiStdioCommand() in identity-upstream.ts.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { IDENTITY_META_KEY } from '../../src/credentials/identity-tokens.js';

const server = new McpServer({ name: 'warden-whoami-stdio', version: '1.0.0' });

// The SDK hands the request's params._meta to tool handlers as extra._meta.
server.registerTool('whoami', { description: 'The principal the gateway passed in _meta', inputSchema: {} }, async (_args, extra) => ({
  content: [{ type: 'text', text: JSON.stringify(extra._meta?.[IDENTITY_META_KEY] ?? null) }],
}));

await server.connect(new StdioServerTransport());
