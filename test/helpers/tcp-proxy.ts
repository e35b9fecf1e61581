import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a real service (Redis, PostgreSQL), so that a test can make it unreachable for one
 * client and then reachable again on the same address: `stop()` refuses and cuts every connection, `hang()`
 * keeps them open but lets nothing through (a server that stopped answering), `start()` restores it.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private hung = false;
  port = 0;

  /** A proxy to host:port, listening on a free loopback port once `start()` resolves. */
  constructor(private readonly target: { hostname: string; port: number }) {}

  async start(): Promise<void> {
    this.hung = false;
    if (this.server) return;
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {});
      }
      client.on('data', (d) => { if (!this.hung) upstream.write(d); });
      upstream.on('data', (d) => { if (!this.hung) client.write(d); });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  hang(): void {
    this.hung = true;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
