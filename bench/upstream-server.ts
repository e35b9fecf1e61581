/**
 * Benchmark upstream: the SDK test server (echo tool and friends) over Streamable HTTP, stateless, plain JSON
 * answers, on a free loopback port. Prints `PORT <n>` on stdout once listening; stops on SIGTERM/SIGINT.
 *
 * Unlike test/helpers/upstreams.ts `startHttpUpstream`, it keeps no record of the requests it saw (that list
 * would grow without bound under load) and lets the SDK transport read the body itself.
 *
 *   node --import tsx bench/upstream-server.ts [--port N]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { buildTestServer } from '../test/helpers/upstreams.js';

const portArg = process.argv.indexOf('--port');
const port = portArg === -1 ? 0 : Number(process.argv[portArg + 1]);

const server = createServer((req, res) => {
  if (req.url !== '/mcp') {
    res.writeHead(404).end();
    return;
  }
  // Stateless: a fresh server and transport per request, as the SDK documents for sessionless servers.
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  const mcp = buildTestServer();
  res.on('close', () => {
    void transport.close();
    void mcp.close();
  });
  mcp
    .connect(transport)
    .then(() => transport.handleRequest(req, res))
    .catch((err: unknown) => {
      process.stderr.write(`upstream: ${err instanceof Error ? err.stack : String(err)}\n`);
      if (!res.headersSent) res.writeHead(500).end();
    });
});
server.keepAliveTimeout = 65_000;

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`PORT ${(server.address() as AddressInfo).port}\n`);
});

const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
