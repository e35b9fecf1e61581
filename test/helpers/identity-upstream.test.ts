import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { IDENTITY_META_KEY, IdentityTokenSigner, principalClaims } from '../../src/credentials/identity-tokens.js';
import { SqliteStore } from '../../src/store/index.js';
import type { Principal } from '../../src/shared/principal.js';
import { startIdentityUpstream, whoamiStdioCommand, type RunningIdentityUpstream } from './identity-upstream.js';

const ALICE: Principal = {
  subject: 'alice',
  tenant: 'acme',
  credential: { kind: 'api_key', id: 'k_abc123' },
  scopes: ['notes:read'],
  roles: ['reader'],
};
const TTL = 60_000;

function text(result: Awaited<ReturnType<Client['callTool']>>): string {
  const [first] = result.content as { type: string; text: string }[];
  return first!.text;
}

async function connect(url: string, headers: Record<string, string>): Promise<Client> {
  const client = new Client({ name: 'identity-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

describe('startIdentityUpstream', () => {
  let dir: string;
  let store: SqliteStore;
  let signer: IdentityTokenSigner;
  let jwksServer: Server;
  let issuer: string;
  let upstream: RunningIdentityUpstream;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-identity-upstream-'));
    store = new SqliteStore(join(dir, 'warden.db'));
    // Stands in for the gateway's /.well-known/jwks.json route.
    jwksServer = createServer((req, res) => {
      if (req.url !== '/.well-known/jwks.json') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(signer.jwks()));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}`;
    signer = await IdentityTokenSigner.open(store.signingKeys, { issuer });
    upstream = await startIdentityUpstream({ jwksUrl: `${issuer}/.well-known/jwks.json`, issuer });
  });

  after(async () => {
    await upstream.close();
    jwksServer.closeAllConnections();
    await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('whoami answers with the verified claims of the caller; every request was verified', async () => {
    const token = await signer.sign(ALICE, upstream.url, TTL);
    const client = await connect(upstream.url, { 'x-warden-identity': token });
    try {
      const claims = JSON.parse(text(await client.callTool({ name: 'whoami', arguments: {} })));
      assert.equal(claims.sub, 'alice');
      assert.deepEqual(claims, principalClaims(ALICE));
    } finally {
      await client.close();
    }
    const mcp = upstream.seen.filter((s) => s.status === undefined);
    assert.ok(mcp.length >= 3, 'initialize, initialized, tools/call at least');
    assert.ok(upstream.verified.length >= mcp.length);
    assert.ok(upstream.verified.every((c) => c.sub === 'alice'));
  });

  test('without the header the connection fails with 401', async () => {
    await assert.rejects(connect(upstream.url, {}), { code: 401 });
    assert.equal(upstream.seen.at(-1)?.status, 401);
  });

  test('a token for another audience, or from another issuer, is refused with 401', async () => {
    const elsewhere = await signer.sign(ALICE, 'http://127.0.0.1:1/mcp', TTL);
    await assert.rejects(connect(upstream.url, { 'x-warden-identity': elsewhere }), { code: 401 });
    const otherStore = new SqliteStore(join(dir, 'other.db'));
    try {
      const impostor = await IdentityTokenSigner.open(otherStore.signingKeys, { issuer });
      await assert.rejects(connect(upstream.url, { 'x-warden-identity': await impostor.sign(ALICE, upstream.url, TTL) }), { code: 401 });
    } finally {
      await otherStore.close();
    }
  });

  test('the header name and audience are configurable', async () => {
    const custom = await startIdentityUpstream({ jwksUrl: `${issuer}/.well-known/jwks.json`, issuer, audience: 'urn:notes', header: 'X-Caller' });
    try {
      await assert.rejects(connect(custom.url, { 'x-caller': await signer.sign(ALICE, custom.url, TTL) }), { code: 401 });
      const client = await connect(custom.url, { 'x-caller': await signer.sign(ALICE, 'urn:notes', TTL) });
      assert.equal(JSON.parse(text(await client.callTool({ name: 'whoami', arguments: {} }))).sub, 'alice');
      await client.close();
    } finally {
      await custom.close();
    }
  });
});

describe('whoamiStdioCommand', () => {
  // The gateway starts stdio children with only the listed variables; PATH is the usual minimum.
  for (const cwd of [process.cwd(), tmpdir()]) {
    test(`whoami reports params._meta["${IDENTITY_META_KEY}"] (cwd ${cwd === process.cwd() ? 'the project' : 'elsewhere'}, env PATH only)`, async () => {
      const [command, ...args] = whoamiStdioCommand();
      const client = new Client({ name: 'identity-test', version: '1.0.0' });
      await client.connect(new StdioClientTransport({ command: command!, args, cwd, env: { PATH: process.env.PATH ?? '' }, stderr: 'inherit' }));
      try {
        const claims = principalClaims(ALICE);
        const withMeta = await client.callTool({ name: 'whoami', arguments: {}, _meta: { [IDENTITY_META_KEY]: claims } });
        assert.deepEqual(JSON.parse(text(withMeta)), claims);
        assert.equal(text(await client.callTool({ name: 'whoami', arguments: {} })), 'null');
      } finally {
        await client.close();
      }
    });
  }
});
