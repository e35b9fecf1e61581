import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configSchema } from '../../src/config/index.js';
import { startGateway } from '../../src/gateway/index.js';
import { silentLogger } from '../../src/shared/log.js';
import { notesServerCommand } from '../helpers/upstreams.js';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

function oauthConfig(dir: string, port: number) {
  const [node, server] = notesServerCommand();
  return {
    listen: { host: '127.0.0.1', port },
    auth: { oauth: {} },
    store: { sqlite: join(dir, 'warden.db') },
    authorization: { scopes: { 'notes:read': { tools: ['list_notes'] } }, roles: { reader: ['notes:read'] } },
    upstreams: { notes: { command: [node!, server!] } },
  };
}

/** What a client that starts with the gateway asks first: PRM, AS metadata, then dynamic registration. */
async function firstSignInSteps(url: string): Promise<{ prm: number; servers: unknown; asMetadata: number; register: number }> {
  const [prm, as, register] = await Promise.all([
    fetch(`${url}/.well-known/oauth-protected-resource/mcp/notes`),
    fetch(`${url}/.well-known/oauth-authorization-server`),
    fetch(`${url}/oauth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:33418/callback'], token_endpoint_auth_method: 'none', client_name: 'startup test' }),
    }),
  ]);
  const metadata = (await prm.json()) as { authorization_servers?: string[] };
  await as.arrayBuffer();
  await register.arrayBuffer();
  return { prm: prm.status, servers: metadata.authorization_servers, asMetadata: as.status, register: register.status };
}

test('the instant startGateway resolves, the authorization server is mounted and named', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-startup-'));
  const gateway = await startGateway(configSchema.parse(oauthConfig(dir, 0)), { log: silentLogger });
  try {
    assert.equal(gateway.ready, true);
    assert.deepEqual(await firstSignInSteps(gateway.url), { prm: 200, servers: [gateway.url], asMetadata: 200, register: 201 });
  } finally {
    await gateway.close();
  }
  assert.equal(gateway.ready, false);
});

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

test('the first time /readyz says ready (polled from another process), sign-in works', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-startup-'));
  const port = await freePort();
  const file = join(dir, 'warden.yaml');
  writeFileSync(file, JSON.stringify(oauthConfig(dir, port)));
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(process.execPath, [CLI, 'serve', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (c) => (stderr += c));
  const exited = once(proc, 'exit');
  try {
    const until = Date.now() + 20_000;
    for (;;) {
      assert.ok(Date.now() < until, `never ready: ${stderr}`);
      assert.equal(proc.exitCode, null, `serve exited: ${stderr}`);
      const status = await fetch(`${url}/readyz`).then((r) => r.status, () => 'refused');
      if (status === 200) break;
      assert.ok(status === 'refused' || status === 503, `readyz answered ${status} before it was ready`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    assert.deepEqual(await firstSignInSteps(url), { prm: 200, servers: [url], asMetadata: 200, register: 201 });
  } finally {
    proc.kill('SIGTERM');
    await exited;
  }
});

test('a gateway that cannot start rejects, and leaves nothing listening', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-startup-'));
  const port = await freePort();
  const first = await startGateway(configSchema.parse(oauthConfig(dir, port)), { log: silentLogger });
  try {
    await assert.rejects(startGateway(configSchema.parse(oauthConfig(mkdtempSync(join(tmpdir(), 'warden-startup-')), port)), { log: silentLogger }), { code: 'EADDRINUSE' });
  } finally {
    await first.close();
  }
});
