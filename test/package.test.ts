import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// By the package's name, as a user of the library imports it: resolved through package.json "exports" to dist/.
import { configSchema, createLogger, identityVerifier, startGateway } from 'mcp-warden';
import { createKey, bearer } from './helpers/keys.js';
import { postRaw } from './helpers/client.js';

test('the package entry: startGateway in front of a server that checks the caller with identityVerifier', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-package-'));
  const dbPath = join(dir, 'warden.db');
  const alice = await createKey(dbPath, { subject: 'alice', tenant: 'acme', scopes: ['echo'] });

  // An upstream that answers every JSON-RPC request with who the gateway says is calling.
  let verify: ReturnType<typeof identityVerifier> | undefined;
  const refusals: string[] = [];
  const tokens: string[] = [];
  const upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const { id } = JSON.parse(body) as { id: number };
      tokens.push(String(req.headers['x-warden-identity']));
      verify!(req.headers['x-warden-identity']).then(
        (caller) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id, result: { sub: caller.sub, tenant: caller.tenant, cred: caller.cred } })),
        (err: Error) => {
          refusals.push(err.message);
          res.writeHead(401).end();
        },
      );
    });
  }).listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}/mcp`;

  const gateway = await startGateway(configSchema.parse({
    listen: { host: '127.0.0.1', port: 0 },
    auth: { apiKeys: {} },
    store: { sqlite: dbPath },
    authorization: { scopes: { echo: { tools: ['echo'] } } },
    upstreams: { web: { url: upstreamUrl } },
  }), { log: createLogger({ level: 'silent' }) });
  try {
    verify = identityVerifier({ gateway: gateway.publicBase, audience: upstreamUrl });
    const call = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: {} } });
    const answer = await postRaw(`${gateway.url}/mcp/web`, call, bearer(alice.key));
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json.result, { sub: 'alice', tenant: 'acme', cred: { kind: 'api_key', id: alice.id } });

    // The same verifier refuses what the gateway did not sign for this server.
    await assert.rejects(verify(undefined), /no caller identity/);
    const other = identityVerifier({ gateway: gateway.publicBase, audience: 'http://another.example/mcp' });
    await assert.rejects(other(tokens[0]), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
    assert.deepEqual(refusals, []);
  } finally {
    await gateway.close();
    upstream.close();
  }
});
