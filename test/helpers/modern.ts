import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { buildModernServer } from './modern-server.js';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

/**
 * MCP of the 2026-07-28 era in tests: a server and a client from the official SDK 2.x packages
 * (`@modelcontextprotocol/server|client`), nobody here wrote their protocol code. The server answers both
 * eras (the SDK serves 2025-era traffic statelessly), as new servers will.
 */

export interface RunningModernUpstream {
  url: string;
  server: Server;
  /** Every request received: method, headers and parsed body, for asserting what reached it. */
  seen: { method: string; headers: IncomingHttpHeaders; body: any }[];
  /** Publishes change notifications to the open `subscriptions/listen` streams. */
  notify: ReturnType<typeof createMcpHandler>['notify'];
  close(): Promise<void>;
}

/** A 2026-07-28 server (SDK 2.x `createMcpHandler`) over Node's HTTP server, at /mcp. */
export async function startModernUpstream(): Promise<RunningModernUpstream> {
  const handler = createMcpHandler(() => buildModernServer());
  const seen: RunningModernUpstream['seen'] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    let body: unknown;
    try {
      body = raw.length ? JSON.parse(raw.toString('utf8')) : undefined;
    } catch {
      body = raw.toString('utf8');
    }
    seen.push({ method: req.method ?? '', headers: { ...req.headers }, body });
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string') headers.set(name, value);
      else if (Array.isArray(value)) headers.set(name, value.join(', '));
    }
    const request = new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method, headers, ...(raw.length && req.method !== 'GET' ? { body: raw } : {}),
    });
    const response = await handler.fetch(request);
    res.writeHead(response.status, Object.fromEntries(response.headers));
    if (!response.body) return void res.end();
    Readable.fromWeb(response.body as import('node:stream/web').ReadableStream).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    server,
    seen,
    notify: handler.notify,
    close: async () => {
      await handler.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * An SDK 2.x client over Streamable HTTP. `auto` probes with `server/discover` and speaks 2026-07-28 to a
 * server that does, 2025-11-25 (initialize) to one that does not; `pin` speaks only 2026-07-28.
 */
export async function connectModernClient(url: string, headers: Record<string, string> = {}, mode: 'auto' | 'pin' = 'auto'): Promise<Client> {
  const client = new Client({ name: 'warden-modern-client', version: '2.0.0' }, {
    versionNegotiation: { mode: mode === 'pin' ? { pin: '2026-07-28' } : 'auto' },
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

/** argv that starts test/helpers/modern-stdio-server.ts (SDK 2.x over stdio, both eras). */
export function modernStdioCommand(): string[] {
  return [process.execPath, '--import', import.meta.resolve('tsx'), fileURLToPath(new URL('./modern-stdio-server.ts', import.meta.url))];
}
