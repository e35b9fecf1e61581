import { isLoopbackHost } from '../config/index.js';
import type { Finding } from './types.js';

/**
 * `warden doctor --url`: the gateway as a stranger sees it, over HTTP, without a credential. It sends only
 * requests that change nothing (GETs and a `ping` with no session), so it is safe against production.
 */

export interface ProbeResult {
  url: string;
  /** What was seen, one line each, for people. */
  observations: string[];
  findings: Finding[];
}

type Fetch = typeof fetch;

export async function probeGateway(base: string, options: { fetch?: Fetch; timeoutMs?: number } = {}): Promise<ProbeResult> {
  const doFetch = options.fetch ?? fetch;
  const url = new URL(base);
  const origin = url.origin;
  const remote = !isLoopbackHost(url.hostname);
  const observations: string[] = [];
  const findings: Finding[] = [];
  const get = (path: string, init: RequestInit = {}) => doFetch(new URL(path, origin), { ...init, redirect: 'manual', signal: AbortSignal.timeout(options.timeoutMs ?? 5_000) });

  let ready: { status?: string; upstreams?: Record<string, unknown> } = {};
  try {
    const health = await get('/healthz');
    observations.push(`/healthz answered ${health.status}`);
    const readyz = await get('/readyz');
    ready = await readyz.json().catch(() => ({})) as typeof ready;
    observations.push(`/readyz answered ${readyz.status}${ready.status ? ` (${ready.status})` : ''}`);
    if (readyz.status === 403) {
      observations.push('/readyz refused this Host: probe with the name clients use (publicUrl), or add it to http.allowedHosts');
    } else if (readyz.status !== 200) {
      findings.push({ id: 'not-ready', severity: 'warning', message: `${origin}/readyz answers ${readyz.status}: a load balancer would send no traffic`, fix: 'read the gateway log (`warden serve --log-level debug`) for the part that did not start' });
    }
  } catch (err) {
    findings.push({ id: 'unreachable', severity: 'critical', message: `${origin} did not answer (${(err as Error).cause ? String((err as Error & { cause: Error }).cause.message) : (err as Error).message})`, fix: 'check the URL, that `warden serve` runs, and that a firewall lets you through' });
    return { url: origin, observations, findings };
  }

  if (url.protocol === 'http:' && remote) {
    findings.push({ id: 'plain-http', severity: 'critical', message: `${origin} is plain HTTP on a network address: keys, tokens and passwords cross the network readable`, fix: 'terminate TLS in front of the gateway (a reverse proxy) and give clients https://; set publicUrl to it' });
  }

  const metrics = await get('/metrics');
  observations.push(`/metrics answered ${metrics.status} without a credential`);
  if (metrics.status === 200 && remote) {
    findings.push({ id: 'metrics-open', severity: 'warning', path: 'metrics', message: `${origin}/metrics is open to anyone who can reach the gateway`, fix: 'remove metrics.public and set metrics.token: "${METRICS_TOKEN}" for your scraper (or metrics.enabled: false)' });
  }

  // The upstreams' names come with /readyz only when the probe runs on the gateway's machine.
  const names = Object.keys(ready.upstreams ?? {});
  const paths = url.pathname.startsWith('/mcp') ? [url.pathname] : names.length > 0 ? names.map((n) => `/mcp/${n}`) : ['/mcp'];
  for (const path of paths) await probeEndpoint(get, origin, path, remote, observations, findings);
  return { url: origin, observations, findings };
}

async function probeEndpoint(get: (path: string, init?: RequestInit) => Promise<Response>, origin: string, path: string, remote: boolean, observations: string[], findings: Finding[]): Promise<void> {
  // A ping without a session: refused by authentication when it is on, and it starts no upstream session when it is not.
  const answer = await get(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });
  await answer.body?.cancel();
  observations.push(`POST ${path} without a credential answered ${answer.status}`);
  // 403 (Host or Origin refused) and 429 come before authentication: they say nothing about it.
  if (answer.status === 403 || answer.status === 429) {
    observations.push(`${path}: refused before authentication; probe with the name clients use (publicUrl) to check it`);
    return;
  }
  // /readyz names the upstreams to loopback clients only; from outside, /mcp exists only for a sole upstream.
  if (answer.status === 404) {
    observations.push(`${path}: no MCP endpoint here; name one: --url ${origin}/mcp/<upstream>`);
    return;
  }
  if (answer.status !== 401) {
    if (remote) findings.push({ id: 'mcp-open', severity: 'critical', path: 'auth', message: `${origin}${path} answers MCP requests without a credential (status ${answer.status}) on a network address`, fix: 'turn on authentication: auth: { apiKeys: {} } (or { oauth: {} }) and restart the gateway' });
    return;
  }
  const challenge = answer.headers.get('www-authenticate') ?? '';
  const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
  if (!metadataUrl) {
    findings.push({ id: 'challenge-without-metadata', severity: 'warning', message: `the 401 of ${path} names no resource_metadata: MCP clients cannot discover how to sign in (RFC 9728)`, fix: 'upgrade warden, or check that nothing in front of it rewrites WWW-Authenticate' });
    return;
  }
  const metadata = await get(metadataUrl).then((r) => r.json() as Promise<{ resource?: string; authorization_servers?: string[] }>).catch(() => undefined);
  if (!metadata?.resource) {
    findings.push({ id: 'metadata-unreachable', severity: 'warning', message: `${metadataUrl} does not answer with protected resource metadata`, fix: 'make the proxy in front forward /.well-known/oauth-protected-resource/* to the gateway' });
    return;
  }
  observations.push(`${path}: resource ${metadata.resource}${metadata.authorization_servers ? `, authorization servers ${metadata.authorization_servers.join(', ')}` : ''}`);
  if (new URL(metadata.resource).origin !== origin) {
    findings.push({ id: 'resource-mismatch', severity: 'warning', path: 'publicUrl', message: `${path} says its resource is ${metadata.resource}, but it was reached at ${origin}: tokens are bound to an address clients do not use`, fix: `set publicUrl: ${origin}` });
  }
  for (const as of metadata.authorization_servers ?? []) {
    const asUrl = new URL(as);
    if (asUrl.protocol !== 'https:' && !isLoopbackHost(asUrl.hostname)) {
      findings.push({ id: 'plain-http', severity: 'critical', message: `the authorization server ${as} is plain HTTP: passwords and codes cross the network readable`, fix: 'serve it over TLS and set publicUrl: https://...' });
    }
  }
}
