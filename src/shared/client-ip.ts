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

/**
 * True when the client is on this machine. With trustProxy 0 a request that carries forwarding headers is not
 * taken as local even from a loopback socket: a proxy on the same host would make every stranger look local.
 */
export function isLoopbackClient(req: IncomingMessage, trustProxy: number): boolean {
  if (trustProxy === 0 && (req.headers['x-forwarded-for'] !== undefined || req.headers.forwarded !== undefined)) return false;
  return isLoopbackAddress(clientIp(req, trustProxy));
}

export function isLoopbackAddress(address: string): boolean {
  const ip = address.startsWith('::ffff:') ? address.slice(7) : address;
  return ip === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip);
}

/** A listen host or URL host on this machine: `localhost`, 127.0.0.0/8 or ::1 (brackets allowed). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || isLoopbackAddress(h);
}
