import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { connectClient, postRaw } from '../helpers/client.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../helpers/upstreams.js';

const text = (result: unknown) => ((result as { content: { text: string }[] }).content[0]!.text);

for (const stateful of [false, true]) {
  for (const json of [false, true]) {
    describe(`HTTP upstream: SDK McpServer, ${stateful ? 'stateful' : 'stateless'}, ${json ? 'JSON' : 'SSE'} answers`, () => {
      let upstream: RunningHttpUpstream;
      let gw: TestGateway;
      before(async () => {
        upstream = await startHttpUpstream({ stateful, json });
        gw = await startGateway({ upstreams: { test: { url: upstream.url, headers: { 'x-upstream-key': 'gateway-own-credential' } } } });
      });
      after(async () => {
        await gw.close();
        await upstream.close();
      });

      test('initialize, tools/list, tools/call, resources/read, prompts/get, session end', async () => {
        const { client, transport } = await connectClient(`${gw.url}/mcp/test`, { authorization: 'Bearer caller-token-never-forwarded', cookie: 'sid=caller-cookie' });
        assert.equal(client.getServerVersion()?.name, 'warden-test-upstream');
        assert.equal(Boolean(transport.sessionId), stateful, 'the upstream session id passes through');
        const tools = (await client.listTools()).tools.map((t) => t.name);
        assert.deepEqual(tools.sort(), ['echo', 'hang', 'secret_tool', 'slow']);
        assert.equal(text(await client.callTool({ name: 'echo', arguments: { text: 'héllo ✓' } })), 'héllo ✓');
        assert.deepEqual((await client.readResource({ uri: 'test://readme' })).contents, [{ uri: 'test://readme', text: 'read me' }]);
        assert.match(JSON.stringify(await client.getPrompt({ name: 'greet', arguments: { name: 'Ada' } })), /Hello Ada/);
        if (stateful) await transport.terminateSession();
        await client.close();

        const posts = upstream.seen.filter((r) => r.method === 'POST');
        assert.ok(posts.length >= 5);
        for (const r of upstream.seen) {
          assert.equal(r.headers.authorization, undefined, "the caller's Authorization never reaches the upstream");
          assert.equal(r.headers.cookie, undefined, "the caller's cookies never reach the upstream");
          assert.equal(r.headers['x-upstream-key'], 'gateway-own-credential', 'the configured header does');
        }
        if (stateful) {
          assert.ok(upstream.seen.some((r) => r.method === 'GET'), "the client's GET stream reaches the upstream");
          assert.ok(upstream.seen.some((r) => r.method === 'DELETE'), 'DELETE ends the upstream session');
        }
      });

      if (!json) {
        test('progress notifications arrive before the result', async () => {
          const { client } = await connectClient(`${gw.url}/mcp/test`);
          const events: string[] = [];
          const result = await client.callTool({ name: 'slow', arguments: { steps: 3 } }, undefined, {
            onprogress: (p) => events.push(`progress ${p.progress}`),
          });
          events.push(text(result));
          assert.deepEqual(events, ['progress 1', 'progress 2', 'progress 3', 'done 3']);
          await client.close();
        });
      }
    });
  }
}

describe('HTTP upstream: allow-list', () => {
  for (const json of [false, true]) {
    test(`tools/list is filtered and a call outside it never reaches the upstream (${json ? 'JSON' : 'SSE'})`, async () => {
      const upstream = await startHttpUpstream({ stateful: true, json });
      const gw = await startGateway({ upstreams: { test: { url: upstream.url, allow: { tools: ['echo', 'sl*'], prompts: [] } } } });
      try {
        const { client } = await connectClient(`${gw.url}/mcp/test`);
        assert.deepEqual((await client.listTools()).tools.map((t) => t.name).sort(), ['echo', 'slow']);
        assert.deepEqual((await client.listPrompts()).prompts, []);
        assert.equal((await client.listResources()).resources.length, 1, 'resources are not restricted');
        await assert.rejects(client.callTool({ name: 'secret_tool', arguments: {} }), /403[\s\S]*not allowed|not allowed[\s\S]*/);
        await assert.rejects(client.getPrompt({ name: 'greet', arguments: { name: 'x' } }), /not allowed/);
        const calls = upstream.seen.filter((r) => (r.body as { method?: string })?.method === 'tools/call' || (r.body as { method?: string })?.method === 'prompts/get');
        assert.deepEqual(calls, [], 'the upstream saw neither denied request');
        const denied = gw.audit.records.filter((r) => r.decision === 'deny').map((r) => `${r.method} ${r.target}`);
        assert.deepEqual(denied, ['tools/call secret_tool', 'prompts/get greet']);
        await client.close();
      } finally {
        await gw.close();
        await upstream.close();
      }
    });
  }
});

describe('HTTP upstream: failures', () => {
  test('upstream killed mid-call → 502 with a JSON-RPC error, and the next call works once it is back', async () => {
    let upstream = await startHttpUpstream({ stateful: false, json: true });
    const port = Number(new URL(upstream.url).port);
    const gw = await startGateway({ upstreams: { test: { url: upstream.url } } });
    try {
      const call = postRaw(`${gw.url}/mcp/test`, JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'hang', arguments: {} } }));
      await sleep(200);
      upstream.server.closeAllConnections();
      await upstream.close();
      const answer = await call;
      assert.equal(answer.status, 502);
      assert.equal(answer.json.id, 5);
      assert.equal(answer.json.error.data.error, 'upstream_unavailable');

      const down = await postRaw(`${gw.url}/mcp/test`, JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'tools/list' }));
      assert.equal(down.status, 502, 'nothing listens: still 502');
      assert.match(down.json.error.message, /ECONNREFUSED/);

      upstream = await startHttpUpstream({ stateful: false, json: true }, port);
      const { client } = await connectClient(`${gw.url}/mcp/test`);
      assert.equal(text(await client.callTool({ name: 'echo', arguments: { text: 'back' } })), 'back');
      await client.close();
    } finally {
      await gw.close();
      await upstream.close();
    }
  });

  test('an SSE answer that breaks off ends with an error event for the pending call', async () => {
    const upstream = await startHttpUpstream({ stateful: false, json: false });
    const gw = await startGateway({ upstreams: { test: { url: upstream.url } } });
    try {
      const { client } = await connectClient(`${gw.url}/mcp/test`);
      const call = client.callTool({ name: 'hang', arguments: {} });
      await sleep(200);
      upstream.server.closeAllConnections();
      await assert.rejects(call, /unavailable|terminated|closed/i);
      await client.close().catch(() => {});
    } finally {
      await gw.close();
      await upstream.close();
    }
  });

  test('an upstream slower than its timeout → 504', async () => {
    const upstream = await startHttpUpstream({ stateful: false, json: true });
    const gw = await startGateway({ upstreams: { test: { url: upstream.url, timeout: '300ms' } } });
    try {
      const answer = await postRaw(`${gw.url}/mcp/test`, JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'hang', arguments: {} } }));
      assert.equal(answer.status, 504);
      assert.equal(answer.json.error.data.error, 'upstream_timeout');
      assert.equal(answer.json.id, 9);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });

  test("an upstream that refuses the gateway's credential → 502 naming the config to check, without its challenge", async () => {
    const { createServer } = await import('node:http');
    const refusing = createServer((_req, res) => res.writeHead(401, { 'www-authenticate': 'Bearer realm="upstream"' }).end());
    await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
    const port = (refusing.address() as { port: number }).port;
    const gw = await startGateway({ upstreams: { locked: { url: `http://127.0.0.1:${port}/mcp` } } });
    try {
      const answer = await postRaw(`${gw.url}/mcp/locked`, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
      assert.equal(answer.status, 502);
      assert.match(answer.json.error.message, /upstreams\.locked\.headers/);
      assert.equal(answer.headers.get('www-authenticate'), null);
    } finally {
      await gw.close();
      refusing.close();
    }
  });
});
