import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as McpServer } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { ReadResourceRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { postRaw } from '../helpers/client.js';

/**
 * Issue 13, attack 1: an allow-list of `file:///public/*` matched against the URI as sent let
 * `file:///public/../secret.txt` through, and the upstream — which resolves URIs like any WHATWG URL parser,
 * `%2e%2e` included — served the secret. The gateway now decides on the RFC 3986 normal form, forwards that
 * form, and refuses what has no unambiguous one.
 */

const FILES: Record<string, string> = { '/public/a.txt': 'public a', '/secret.txt': 'the secret' };

/** A stateless MCP server over HTTP whose resources/read resolves the URI's path the way `new URL` does. */
async function fileServer(): Promise<{ url: string; reads: string[]; server: Server }> {
  const reads: string[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const mcp = new McpServer({ name: 'files', version: '1' }, { capabilities: { resources: {} } });
    mcp.setRequestHandler(ReadResourceRequestSchema, async ({ params }) => {
      reads.push(params.uri);
      const path = new URL(params.uri).pathname.replaceAll('%2F', '/').replaceAll('%5C', '/');
      const text = FILES[decodeURIComponent(path)] ?? 'no such file';
      return { contents: [{ uri: params.uri, text }] };
    });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => void mcp.close());
    await mcp.connect(transport);
    await transport.handleRequest(req, res, JSON.parse(Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, reads, server };
}

describe('attack: allow-list bypass through resource URIs', () => {
  let upstream: Awaited<ReturnType<typeof fileServer>>;
  let gw: TestGateway;
  let endpoint: string;
  const read = (uri: string, id = 1) => postRaw(endpoint, JSON.stringify({ jsonrpc: '2.0', id, method: 'resources/read', params: { uri } }));

  before(async () => {
    upstream = await fileServer();
    gw = await startGateway({ upstreams: { files: { url: upstream.url, allow: { resources: ['file:///public/*'] } } } });
    endpoint = `${gw.url}/mcp/files`;
  });
  after(async () => {
    await gw.close();
    upstream.server.closeAllConnections();
    upstream.server.close();
  });

  test('control: a public file is read, and a spelling of it is forwarded in its normal form', async () => {
    const plain = await read('file:///public/a.txt');
    assert.equal(plain.status, 200);
    assert.equal(plain.json.result.contents[0].text, 'public a');
    const spelled = await read('FILE:///public/./b/../%61.txt');
    assert.equal(spelled.status, 200);
    assert.equal(spelled.json.result.contents[0].text, 'public a');
    assert.equal(upstream.reads.at(-1), 'file:///public/a.txt', 'the upstream got what was decided on');
  });

  const escapes: [string, string][] = [
    ['dot segments', 'file:///public/../secret.txt'],
    ['encoded dot segments', 'file:///public/%2e%2e/secret.txt'],
    ['upper-case encoded dot segments', 'file:///public/%2E%2E/secret.txt'],
    ['mixed encoded dots', 'file:///public/.%2e/secret.txt'],
    ['dot segments after a file name', 'file:///public/a.txt/../../secret.txt'],
    ['upper-case scheme', 'FILE:///public/../secret.txt'],
  ];
  for (const [name, uri] of escapes) {
    test(`${name}: ${uri} is decided on as file:///secret.txt and refused`, async () => {
      const readsBefore = upstream.reads.length;
      const recordsBefore = gw.audit.records.length;
      const res = await read(uri, 7);
      assert.equal(res.status, 403, res.text);
      assert.equal(res.json.error.data.error, 'forbidden');
      assert.equal(res.json.id, 7);
      assert.equal(upstream.reads.length, readsBefore, 'nothing reached the upstream');
      const record = gw.audit.records.slice(recordsBefore).find((r) => r.method === 'resources/read');
      assert.ok(record, 'the refusal is audited');
      assert.equal(record.decision, 'deny');
      assert.equal(record.target, 'file:///secret.txt', 'the record names what the URI resolves to');
      assert.equal((await read('file:///public/a.txt')).json.result.contents[0].text, 'public a', 'the next legitimate read works');
    });
  }

  const ambiguous: [string, string][] = [
    ['an encoded slash', 'file:///public/..%2Fsecret.txt'],
    ['an encoded backslash', 'file:///public/..%5Csecret.txt'],
    ['a double encoding', 'file:///public/%252e%252e/secret.txt'],
    ['a backslash', 'file:///public/..\\secret.txt'],
    ['an encoded NUL', 'file:///public/a.txt%00.png'],
    ['a malformed percent-encoding', 'file:///public/%zz'],
    ['dot segments in the query', 'file:///public/a.txt?../../secret.txt'],
    ['a relative reference', '/public/../secret.txt'],
    ['a control character', 'file:///public/a.txt\n'],
  ];
  for (const [name, uri] of ambiguous) {
    test(`${name}: ${JSON.stringify(uri)} has no unambiguous normal form and is refused with 400`, async () => {
      const readsBefore = upstream.reads.length;
      const recordsBefore = gw.audit.records.length;
      const res = await read(uri);
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.error.data.error, 'invalid_params');
      assert.equal(res.json.error.code, -32602);
      assert.equal(upstream.reads.length, readsBefore, 'nothing reached the upstream');
      const record = gw.audit.records.slice(recordsBefore).find((r) => r.method === 'resources/read');
      assert.ok(record);
      assert.equal(record.decision, 'deny');
      assert.match(record.reason, /^resource URI refused: /);
      assert.equal((await read('file:///public/a.txt')).status, 200, 'the next legitimate read works');
    });
  }

  test('without the gateway, the upstream would have served the secret (the attack is real)', async () => {
    const direct = await postRaw(upstream.url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri: 'file:///public/%2e%2e/secret.txt' } }));
    assert.equal(direct.json.result.contents[0].text, 'the secret');
  });
});
