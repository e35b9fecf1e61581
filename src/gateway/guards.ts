import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../shared/errors.js';

/**
 * Checks at the HTTP edge: the path (before routing), the Host and Origin headers (DNS-rebinding protection,
 * as the MCP transport spec requires) and the CORS headers that follow from them.
 */

/** Only plain, already-normal paths are routed: no dot segments, no encodings, no doubled slashes. */
const SAFE_PATH = /^(\/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*\/?$/;

export function requestPath(rawUrl: string | undefined): string {
  const url = rawUrl ?? '/';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  // `/.well-known/` is the one dot-led segment served (RFC 8615); the rest must start with a plain character.
  const checked = path.startsWith('/.well-known/') ? path.slice('/.well-known'.length) : path;
  if (!SAFE_PATH.test(checked) || /(^|\/)\.\.?(\/|$)/.test(path)) {
    throw new GatewayError('bad_path', 'Bad path: use the plain endpoint path, e.g. /mcp/<upstream>, without dot segments or encoded characters');
  }
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

export interface OriginPolicy {
  /** Host header values accepted (lowercase, with and without port); empty means any. */
  hosts: Set<string>;
  /** Origins accepted besides requests without an Origin header (non-browser clients). */
  origins: Set<string>;
}

export function buildOriginPolicy(options: {
  port: number;
  loopback: boolean;
  publicUrl?: string;
  allowedHosts: string[];
  allowedOrigins: string[];
}): OriginPolicy {
  const hosts = new Set<string>();
  const origins = new Set<string>(options.allowedOrigins.map((o) => o.toLowerCase()));
  const names = options.loopback ? ['localhost', '127.0.0.1', '[::1]'] : [];
  for (const name of names) {
    hosts.add(name);
    hosts.add(`${name}:${options.port}`);
    origins.add(`http://${name}:${options.port}`);
  }
  if (options.publicUrl) {
    const u = new URL(options.publicUrl);
    hosts.add(u.host.toLowerCase());
    hosts.add(u.hostname.toLowerCase());
    origins.add(u.origin.toLowerCase());
  }
  for (const h of options.allowedHosts) hosts.add(h.toLowerCase());
  // Bound beyond loopback with no host list (only possible with authentication on): any Host is fine.
  if (!options.loopback && options.allowedHosts.length === 0 && !options.publicUrl) hosts.clear();
  return { hosts, origins };
}

export function checkHost(req: IncomingMessage, policy: OriginPolicy): void {
  if (policy.hosts.size === 0) return;
  const host = (req.headers.host ?? '').toLowerCase();
  if (!policy.hosts.has(host)) {
    throw new GatewayError('forbidden_host', `Forbidden: Host "${host.slice(0, 100)}" is not this gateway; add it to http.allowedHosts if it is`);
  }
}

/** Returns the allowed origin, or undefined when the request has none; throws for a foreign one. */
export function checkOrigin(req: IncomingMessage, policy: OriginPolicy): string | undefined {
  const origin = req.headers.origin;
  if (origin === undefined) return undefined;
  if (!policy.origins.has(origin.toLowerCase())) {
    throw new GatewayError('forbidden_origin', `Forbidden: Origin "${origin.slice(0, 100)}" is not allowed; add it to http.allowedOrigins if it is yours`);
  }
  return origin;
}

export function corsHeaders(origin: string | undefined): Record<string, string> {
  if (!origin) return {};
  return {
    'access-control-allow-origin': origin,
    'access-control-expose-headers': 'mcp-session-id, mcp-protocol-version, www-authenticate, retry-after, dpop-nonce',
    vary: 'Origin',
  };
}

const ALLOWED_REQUEST_HEADERS = ['content-type', 'accept', 'authorization', 'dpop', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id', 'mcp-method', 'mcp-name'];

/**
 * The preflight answer. `Mcp-Param-*` names are chosen per tool by the server (2026-07-28), so no fixed list
 * can hold them: those the browser asks for are allowed by name, next to the fixed transport headers.
 */
export function preflightHeaders(origin: string, requested?: string): Record<string, string> {
  const params = (requested ?? '').split(',').map((h) => h.trim().toLowerCase()).filter((h) => /^mcp-param-[!#$%&'*+.^_`|~0-9a-z-]+$/.test(h));
  return {
    ...corsHeaders(origin),
    'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
    'access-control-allow-headers': [...ALLOWED_REQUEST_HEADERS, ...params].join(', '),
    'access-control-max-age': '600',
    vary: 'Origin, Access-Control-Request-Headers',
  };
}
