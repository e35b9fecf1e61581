import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { IDENTITY_JWT_TYPE, type PrincipalClaims } from '../../src/credentials/identity-tokens.js';

/**
 * Test upstreams that check what the gateway tells them about the caller, the way docs/identity.md tells MCP
 * server authors to: an HTTP one that verifies the identity JWT on every request, and a stdio one that
 * reports `params._meta["dev.mcp-warden/principal"]`.
 */

/**
 * argv that starts test/helpers/whoami-stdio-server.ts. tsx is passed as a resolved file URL so the child
 * finds it whatever its cwd, and with an environment of PATH only (the gateway passes only listed variables).
 */
export function whoamiStdioCommand(): string[] {
  return [process.execPath, '--import', import.meta.resolve('tsx'), fileURLToPath(new URL('./whoami-stdio-server.ts', import.meta.url))];
}

export interface IdentityUpstreamOptions {
  /** Where the gateway publishes its keys: `<gateway>/.well-known/jwks.json`. */
  jwksUrl: string;
  issuer: string;
  /** Default: this upstream's own URL, as the gateway's default audience is the upstream's configured url. */
  audience?: string;
  /** Default: x-warden-identity. */
  header?: string;
}

export interface RunningIdentityUpstream {
  url: string;
  /** Every request received, verified or not: for asserting what reached the upstream (and what did not). */
  seen: { method: string; headers: Record<string, string | string[] | undefined>; body: unknown; status?: number }[];
  /** The principal claims of every request whose identity JWT verified, in order. */
  verified: PrincipalClaims[];
  close(): Promise<void>;
}

/** JWT registered claims, dropped so that `verified` and `whoami` compare equal to principalClaims(). */
const REGISTERED = new Set(['iss', 'aud', 'iat', 'exp', 'nbf', 'jti']);

function toPrincipalClaims(payload: JWTPayload): PrincipalClaims {
  return Object.fromEntries(Object.entries(payload).filter(([k]) => !REGISTERED.has(k))) as unknown as PrincipalClaims;
}

function buildWhoamiServer(): McpServer {
  const server = new McpServer({ name: 'warden-identity-upstream', version: '1.0.0' });
  server.registerTool('whoami', { description: 'The verified identity of the caller', inputSchema: {} }, async (_args, extra) => ({
    content: [{ type: 'text', text: JSON.stringify(extra.authInfo?.extra?.claims ?? null) }],
  }));
  return server;
}

/** A stateful Streamable HTTP MCP server at /mcp that answers 401 to any request without a valid identity JWT. */
export async function startIdentityUpstream(options: IdentityUpstreamOptions): Promise<RunningIdentityUpstream> {
  const header = (options.header ?? 'x-warden-identity').toLowerCase();
  const jwks = createRemoteJWKSet(new URL(options.jwksUrl));
  const seen: RunningIdentityUpstream['seen'] = [];
  const verified: PrincipalClaims[] = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  let audience = options.audience ?? '';

  const verify = async (req: IncomingMessage): Promise<AuthInfo | string> => {
    const token = req.headers[header];
    if (typeof token !== 'string' || token === '') return `missing ${header}`;
    try {
      const { payload } = await jwtVerify(token, jwks, { issuer: options.issuer, audience, typ: IDENTITY_JWT_TYPE, algorithms: ['ES256'] });
      const claims = toPrincipalClaims(payload);
      verified.push(claims);
      // The SDK hands req.auth to tool handlers as extra.authInfo: per request, not per session.
      return { token, clientId: claims.client_id ?? '', scopes: claims.scope ? claims.scope.split(' ') : [], extra: { claims } };
    } catch (err) {
      return `invalid ${header}: ${(err as Error).message}`;
    }
  };

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text ? JSON.parse(text) : undefined;
    const entry: RunningIdentityUpstream['seen'][number] = { method: req.method ?? '', headers: { ...req.headers }, body };
    seen.push(entry);
    if (req.url !== '/mcp') {
      res.writeHead((entry.status = 404)).end();
      return;
    }
    const auth = await verify(req);
    if (typeof auth === 'string') {
      res.writeHead((entry.status = 401), { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_identity', message: auth }));
      return;
    }
    (req as IncomingMessage & { auth?: AuthInfo }).auth = auth;
    const sid = req.headers['mcp-session-id'];
    let transport = typeof sid === 'string' ? sessions.get(sid) : undefined;
    if (!transport) {
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessions.set(id, created);
        },
      });
      created.onclose = () => {
        if (created.sessionId) sessions.delete(created.sessionId);
      };
      await buildWhoamiServer().connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res, body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  audience ||= url;
  return {
    url,
    seen,
    verified,
    close: async () => {
      for (const t of sessions.values()) await t.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
