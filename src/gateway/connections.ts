import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import type { Socket } from 'node:net';
import type { WardenConfig } from '../config/index.js';

type HttpLimits = Pick<WardenConfig['http'],
  'headersTimeout' | 'requestTimeout' | 'idleTimeout' | 'maxConnections' | 'maxConnectionsPerIp' | 'trustProxy'>;

/**
 * The gateway's HTTP server with its connections bounded, so that slow or many connections cannot starve
 * everyone else: headers and the whole request must arrive in time (Node answers 408 and closes), a
 * connection on which nothing moves is closed, and connections are capped in total and per client address.
 * The per-address cap counts socket peers; behind a proxy (trustProxy > 0) every peer is the proxy, so
 * there it is off and the proxy is where such a cap belongs. With `tls`, the server speaks HTTPS; the caps
 * apply to TCP connections before any handshake, so a flood of handshakes is bounded too.
 */
export function boundedServer(
  limits: HttpLimits,
  listener: (req: IncomingMessage, res: ServerResponse) => void,
  tls?: SecureContextOptions & TlsOptions,
): Server {
  const options = {
    headersTimeout: limits.headersTimeout,
    requestTimeout: limits.requestTimeout,
    // How often Node looks for connections past those timeouts (its default, 30 s, would let them run long).
    connectionsCheckingInterval: Math.max(250, Math.min(5_000, Math.floor(Math.min(limits.headersTimeout, limits.requestTimeout) / 4))),
  };
  // The same limits either way: an https.Server is an http.Server whose sockets are TLS (HTTP/1.1 only).
  const server = tls ? createHttpsServer({ ...options, ...tls }, listener) : createServer(options, listener);
  server.keepAliveTimeout = 65_000;
  server.timeout = limits.idleTimeout; // no 'timeout' listener: Node destroys the idle socket
  server.maxConnections = limits.maxConnections;
  const perIp = limits.trustProxy === 0 ? limits.maxConnectionsPerIp : false;
  if (perIp !== false) capPerAddress(server, perIp);
  return server;
}

function capPerAddress(server: Server, cap: number): void {
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const count = (open.get(address) ?? 0) + 1;
    if (count > cap) {
      socket.destroy();
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left === 0) open.delete(address);
      else open.set(address, left);
    });
  });
}
