import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsServerOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

const require = createRequire(import.meta.url);

/** argv that starts @modelcontextprotocol/server-everything over stdio (nobody here wrote it). */
export function everythingCommand(): string[] {
  const pkg = require.resolve('@modelcontextprotocol/server-everything/package.json');
  return [process.execPath, fileURLToPath(new URL('./dist/index.js', `file://${pkg}`)), 'stdio'];
}

/** argv that starts the bundled demo notes server (built into dist/ by `npm test`). */
export function notesServerCommand(): string[] {
  return [process.execPath, fileURLToPath(new URL('../../dist/demo/notes-server.js', import.meta.url))];
}

export interface HttpUpstreamOptions {
  /** Stateful servers hand out Mcp-Session-Id; stateless ones answer each POST on its own. */
  stateful: boolean;
  /** Plain JSON answers instead of SSE streams. */
  json: boolean;
  /** Serve HTTPS with these (cert, key, and ca + requestCert to ask the gateway for its client certificate). */
  tls?: HttpsServerOptions;
}

export interface RunningHttpUpstream {
  url: string;
  server: Server;
  /** Every request the upstream received: method, headers, body. For asserting what reached it. */
  seen: { method: string; headers: Record<string, string | string[] | undefined>; body: unknown; peerCertificate?: string }[];
  close(): Promise<void>;
}

/** A small SDK McpServer with an echo tool, a slow tool with progress, a resource and a prompt. */
export function buildTestServer(): McpServer {
  const server = new McpServer({ name: 'warden-test-upstream', version: '1.0.0' });
  server.registerTool('echo', { description: 'Echo the text', inputSchema: { text: z.string() } }, async ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  server.registerTool('secret_tool', { description: 'A tool to hide with allow-lists', inputSchema: {} }, async () => ({
    content: [{ type: 'text', text: 'secret' }],
  }));
  server.registerTool('slow', { description: 'Progress then answer', inputSchema: { steps: z.number().int() } }, async ({ steps }, extra) => {
    for (let i = 1; i <= steps; i++) {
      await new Promise((r) => setTimeout(r, 30));
      const token = extra._meta?.progressToken;
      if (token !== undefined) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: steps } });
    }
    return { content: [{ type: 'text', text: `done ${steps}` }] };
  });
  server.registerTool('hang', { description: 'Never answers', inputSchema: {} }, async () => new Promise(() => {}));
  server.registerResource('readme', 'test://readme', { mimeType: 'text/plain' }, async (uri) => ({
    contents: [{ uri: uri.href, text: 'read me' }],
  }));
  server.registerPrompt('greet', { argsSchema: { name: z.string() } }, ({ name }) => ({
    messages: [{ role: 'user', content: { type: 'text', text: `Hello ${name}` } }],
  }));
  return server;
}

/** Runs `buildTestServer()` over Streamable HTTP on a free loopback port, at /mcp. */
export async function startHttpUpstream(options: HttpUpstreamOptions, port = 0): Promise<RunningHttpUpstream> {
  const seen: RunningHttpUpstream['seen'] = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text ? JSON.parse(text) : undefined;
    const peer = (req.socket as Partial<TLSSocket>).getPeerCertificate?.();
    seen.push({ method: req.method ?? '', headers: { ...req.headers }, body, ...(peer?.subject ? { peerCertificate: String(peer.subject.CN) } : {}) });
    if (req.url !== '/mcp') {
      res.writeHead(404).end();
      return;
    }
    if (!options.stateful) {
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: options.json });
      const mcp = buildTestServer();
      res.on('close', () => {
        void transport.close();
        void mcp.close();
      });
      await mcp.connect(transport);
      await transport.handleRequest(req, res, body);
      return;
    }
    const sid = req.headers['mcp-session-id'];
    let transport = typeof sid === 'string' ? sessions.get(sid) : undefined;
    if (!transport) {
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableJsonResponse: options.json,
        onsessioninitialized: (id) => {
          sessions.set(id, transport!);
        },
      });
      transport.onclose = () => {
        if (transport!.sessionId) sessions.delete(transport!.sessionId);
      };
      await buildTestServer().connect(transport);
    }
    await transport.handleRequest(req, res, body);
  };
  const server: Server = options.tls ? createHttpsServer(options.tls, (req, res) => void handler(req, res)) : createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${address.port}/mcp`,
    server,
    seen,
    close: async () => {
      for (const t of sessions.values()) await t.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
