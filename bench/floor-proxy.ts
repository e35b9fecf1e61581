/**
 * The floor: what one HTTP hop in front of an MCP server costs with nothing else. A node:http server and an
 * undici Pool that forward POST /mcp bodies to the upstream (read whole, as the gateway does, which measured
 * a little cheaper than streaming a small body through) and stream the answer back, copying
 * only the headers Streamable HTTP needs (content-type, accept, mcp-session-id, mcp-protocol-version, and the
 * body length). No auth, no parsing, no logging. Prints `PORT <n>` on stdout once listening (as
 * bench/upstream-server.ts does); stops on SIGTERM/SIGINT.
 *
 *   node --import tsx bench/floor-proxy.ts --upstream http://127.0.0.1:PORT/mcp [--port N]
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'undici';

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
};
const upstreamArg = arg('upstream');
if (!upstreamArg) {
  process.stderr.write('floor-proxy: --upstream URL is required\n');
  process.exit(2);
}
const upstream = new URL(upstreamArg);
const upstreamPath = `${upstream.pathname}${upstream.search}`;
// The same pool settings as the gateway's HTTP upstream (src/gateway/upstreams/http.ts).
const pool = new Pool(upstream.origin, { connections: 256, keepAliveTimeout: 30_000, bodyTimeout: 0 });

const REQUEST_HEADERS = ['content-type', 'content-length', 'accept', 'mcp-session-id', 'mcp-protocol-version'];
const RESPONSE_HEADERS = ['content-type', 'content-length', 'mcp-session-id', 'mcp-protocol-version'];

function pick(from: IncomingMessage['headers'] | Record<string, string | string[] | undefined>, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = from[name];
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/mcp') {
    res.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.once('end', () => void pool
    .request({ path: upstreamPath, method: 'POST', headers: pick(req.headers, REQUEST_HEADERS), body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) })
    .then(async (answer) => {
      res.writeHead(answer.statusCode, pick(answer.headers, RESPONSE_HEADERS));
      await pipeline(answer.body, res);
    })
    .catch((err: unknown) => {
      process.stderr.write(`floor-proxy: ${err instanceof Error ? err.message : String(err)}\n`);
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    }));
});
server.keepAliveTimeout = 65_000;

const port = Number(arg('port') ?? 0);
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`PORT ${(server.address() as AddressInfo).port}\n`);
});

const stop = () => {
  server.closeAllConnections();
  server.close(() => void pool.close().finally(() => process.exit(0)));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
