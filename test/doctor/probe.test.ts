import { test } from 'node:test';
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { probeGateway } from '../../src/doctor/index.js';
import { startGateway } from '../helpers/gateway.js';
import { keyedSetup, createKey, bearer } from '../helpers/keys.js';
import { postRaw, freePort } from '../helpers/client.js';
import { warden } from '../helpers/cli.js';

/** `warden doctor --url`: a real gateway, seen from outside. */

const NOTES = { notes: { url: 'http://127.0.0.1:9/mcp' } };
const SCOPES = { authorization: { scopes: { 'notes:read': { tools: ['search_notes'] } } } };
/** This machine's own non-loopback address: a gateway reached there sees a client that is not loopback. */
const LAN_IP = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;


test('a gateway with API keys on loopback: a 401 challenge with metadata for the address it was reached at; no finding', async () => {
  const { config, dbPath } = keyedSetup();
  const gw = await startGateway({ ...config, ...SCOPES, upstreams: NOTES });
  try {
    const result = await probeGateway(gw.url);
    assert.deepEqual(result.findings, []);
    assert.ok(result.observations.includes('POST /mcp/notes without a credential answered 401'), result.observations.join('\n'));
    assert.ok(result.observations.some((o) => o.startsWith(`/mcp/notes: resource ${gw.url}/mcp/notes`)));
    // The probe left the gateway serving: a real key still gets through authentication.
    const key = await createKey(dbPath, { subject: 'alice', scopes: ['notes:read'] });
    const after = await postRaw(`${gw.url}/mcp/notes`, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }), bearer(key.key));
    assert.notEqual(after.status, 401);
  } finally {
    await gw.close();
  }
});

test('a gateway without auth reached on a network address: mcp-open, plain-http and metrics-open', { skip: LAN_IP ? false : 'no non-loopback IPv4 address' }, async () => {
  // startGateway takes the config as given (the loader would refuse this one: that is the point of probing from outside).
  const gw = await startGateway({ listen: { host: '0.0.0.0', port: await freePort() }, metrics: { enabled: true, public: true }, upstreams: NOTES });
  try {
    const url = gw.url.replace(/\/\/[^:/]+/, `//${LAN_IP}`);
    const result = await probeGateway(url);
    const ids = result.findings.map((f) => f.id).sort();
    assert.deepEqual(ids, ['mcp-open', 'metrics-open', 'plain-http']);
    assert.match(result.findings.find((f) => f.id === 'mcp-open')!.fix, /auth: \{ apiKeys: \{\} \}/);
  } finally {
    await gw.close();
  }
});

test('a gateway with API keys reached on a network address without TLS: plain-http, and its metadata names another address', { skip: LAN_IP ? false : 'no non-loopback IPv4 address' }, async () => {
  const { config } = keyedSetup();
  const port = await freePort();
  // Control for resource-mismatch: the metadata is for localhost while clients use the LAN address.
  const gw = await startGateway({ ...config, ...SCOPES, listen: { host: '0.0.0.0', port }, publicUrl: `http://localhost:${port}`, http: { allowedHosts: [`${LAN_IP}:${port}`, LAN_IP!] }, metrics: { enabled: false }, upstreams: NOTES });
  try {
    const result = await probeGateway(`http://${LAN_IP}:${port}`);
    assert.deepEqual(result.findings.map((f) => f.id).sort(), ['plain-http', 'resource-mismatch']);
    assert.match(result.findings.find((f) => f.id === 'resource-mismatch')!.fix, new RegExp(`publicUrl: http://${LAN_IP}:${port}`));
  } finally {
    await gw.close();
  }
});

test('warden doctor --url: exit 0 for a sound gateway, exit 1 and "unreachable" for nothing listening', async () => {
  const { config } = keyedSetup();
  const gw = await startGateway({ ...config, ...SCOPES, upstreams: NOTES });
  try {
    const ok = await warden(['doctor', '--url', gw.url, '--json']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.equal(JSON.parse(ok.stdout).ok, true);
  } finally {
    await gw.close();
  }
  const down = await warden(['doctor', '--url', gw.url]);
  assert.equal(down.code, 1);
  assert.match(down.stdout, /CRITICAL unreachable/);
  assert.match(down.stdout, /fix: check the URL/);
});

test('from outside, several upstreams: /mcp is not an endpoint (no false finding); the URL of one names it', { skip: LAN_IP ? false : 'no non-loopback IPv4 address' }, async () => {
  const port = await freePort();
  const gw = await startGateway({ listen: { host: '0.0.0.0', port }, metrics: { enabled: false }, upstreams: { a: { url: 'http://127.0.0.1:9/mcp' }, b: { url: 'http://127.0.0.1:10/mcp' } } });
  try {
    const base = await probeGateway(`http://${LAN_IP}:${port}`);
    assert.deepEqual(base.findings.map((f) => f.id), ['plain-http']);
    assert.ok(base.observations.some((o) => o.includes(`name one: --url http://${LAN_IP}:${port}/mcp/<upstream>`)), base.observations.join('\n'));
    const named = await probeGateway(`http://${LAN_IP}:${port}/mcp/a`);
    assert.deepEqual(named.findings.map((f) => f.id).sort(), ['mcp-open', 'plain-http']);
  } finally {
    await gw.close();
  }
});
