import type { IncomingMessage } from 'node:http';

/**
 * The client address for rate limiting and audit. With `trustProxy` hops, the address that many entries
 * from the right of X-Forwarded-For: entries further left were written by the client and prove nothing.
 */
export function clientIp(req: IncomingMessage, trustProxy: number): string {
  const socketIp = req.socket.remoteAddress ?? 'unknown';
  if (trustProxy === 0) return socketIp;
  const header = req.headers['x-forwarded-for'];
  const forwarded = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const chain = [...forwarded, socketIp];
  return chain[Math.max(0, chain.length - 1 - trustProxy)] ?? socketIp;
}
