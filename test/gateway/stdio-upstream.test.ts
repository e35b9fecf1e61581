import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { connectClient, getJson, postRaw, INITIALIZE } from '../helpers/client.js';
import { everythingCommand, notesServerCommand } from '../helpers/upstreams.js';

const text = (result: unknown) => ((result as { content: { text: string }[] }).content[0]!.text);

describe('stdio upstream: @modelcontextprotocol/server-everything through the gateway', () => {
  let gw: TestGateway;
  before(async () => {
    process.env.WARDEN_TEST_VISIBLE = 'visible-value';
    process.env.WARDEN_TEST_HIDDEN = 'hidden-value';
    gw = await startGateway({
      upstreams: { everything: { command: everythingCommand(), env: ['WARDEN_TEST_VISIBLE'], setEnv: { WARDEN_TEST_SET: 'set-value' } } },
    });
  });
  after(() => gw.close());

  test('initialize, tools/list, tools/call, resources/read, prompts/get and session end', async () => {
    const { client, transport } = await connectClient(`${gw.url}/mcp/everything`);
    assert.match(transport.sessionId ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(client.getServerVersion()?.name, 'mcp-servers/everything');

    const tools = (await client.listTools()).tools.map((t) => t.name);
    assert.ok(tools.includes('echo') && tools.includes('get-sum'), `tools: ${tools.join(', ')}`);
    assert.equal(text(await client.callTool({ name: 'echo', arguments: { message: 'hi there' } })), 'Echo: hi there');
    assert.match(text(await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } })), /5/);

    const resources = (await client.listResources()).resources;
    assert.ok(resources.length > 0);
    const read = await client.readResource({ uri: resources[0]!.uri });
    assert.equal(read.contents[0]!.uri, resources[0]!.uri);

    const prompt = await client.getPrompt({ name: 'simple-prompt' });
    assert.ok(prompt.messages.length > 0);

    assert.equal((await getJson(`${gw.url}/readyz`)).upstreams.everything.sessions, 1);
    await transport.terminateSession();
    await client.close();
    assert.equal((await getJson(`${gw.url}/readyz`)).upstreams.everything.sessions, 0);
  });

  test('a long tool call streams its progress notifications before its result', async () => {
    const { client } = await connectClient(`${gw.url}/mcp/everything`);
    const events: string[] = [];
    const result = await client.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 0.6, steps: 3 } },
      undefined,
      { onprogress: (p) => events.push(`progress ${p.progress}/${p.total}`) },
    );
    events.push('result');
    assert.deepEqual(events, ['progress 1/3', 'progress 2/3', 'progress 3/3', 'result']);
    assert.match(text(result), /completed/);
    await client.close();
  });

  test('a server-to-client request (sampling) travels on the call stream and its answer reaches the child', async () => {
    const client = new Client({ name: 'sampling-client', version: '1.0.0' }, { capabilities: { sampling: {} } });
    const prompts: string[] = [];
    client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
      prompts.push(JSON.stringify(request.params.messages));
      return { model: 'test-model', role: 'assistant', content: { type: 'text', text: 'sampled answer 42' } };
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp/everything`)));
    const result = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'say 42', maxTokens: 20 } });
    assert.equal(prompts.length, 1);
    assert.match(prompts[0]!, /say 42/);
    assert.match(JSON.stringify(result), /sampled answer 42/);
    await client.close();
  });

  test('notifications the server sends on its own arrive on the GET stream', async () => {
    const { client } = await connectClient(`${gw.url}/mcp/everything`);
    const logs: string[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logs.push(String(n.params.data));
    });
    await client.setLoggingLevel('debug');
    await client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    // The first message may ride on the tool call's stream; the next comes 5 s later with no request open.
    const deadline = Date.now() + 8000;
    while (logs.length < 2 && Date.now() < deadline) await sleep(100);
    assert.ok(logs.length >= 2, `logging notifications received: ${logs.length}`);
    await client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    await client.close();
  });

  test('the child sees only the variables the config names', async () => {
    const { client } = await connectClient(`${gw.url}/mcp/everything`);
    const env = JSON.parse(text(await client.callTool({ name: 'get-env', arguments: {} }))) as Record<string, string>;
    assert.equal(env.WARDEN_TEST_VISIBLE, 'visible-value');
    assert.equal(env.WARDEN_TEST_SET, 'set-value');
    assert.equal(env.WARDEN_TEST_HIDDEN, undefined);
    assert.equal(env.HOME, undefined, 'HOME was not named, so it must not reach the child');
    await client.close();
  });

  test('a session id from nowhere is 404, a missing one is 400', async () => {
    const unknown = await postRaw(`${gw.url}/mcp/everything`, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }), { 'mcp-session-id': 'not-a-session' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.error.data.error, 'session_not_found');
    const missing = await postRaw(`${gw.url}/mcp/everything`, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }));
    assert.equal(missing.status, 400);
    assert.equal(missing.json.error.data.error, 'session_required');
  });
});

describe('stdio upstream: failures and bounds', () => {
  test('child killed mid-call → 502 with a JSON-RPC error, and a new session works', async () => {
    const gw = await startGateway({ upstreams: { notes: { command: notesServerCommand(), setEnv: { WARDEN_DEMO_NOTES: '/tmp/warden-test-notes-kill.json' } } } });
    try {
      const init = await postRaw(`${gw.url}/mcp/notes`, JSON.stringify(INITIALIZE));
      assert.equal(init.status, 200);
      const sid = init.headers.get('mcp-session-id')!;
      await postRaw(`${gw.url}/mcp/notes`, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), { 'mcp-session-id': sid });
      // A JSON-only caller: nothing is sent before the answer, so the failure can still be an HTTP status.
      const call = postRaw(`${gw.url}/mcp/notes`, JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'count_slowly', arguments: { n: 20 } } }), { 'mcp-session-id': sid, accept: 'application/json' });
      await sleep(300);
      const pid = findChildPid(gw);
      process.kill(pid, 'SIGKILL');
      const answer = await call;
      assert.equal(answer.status, 502);
      assert.equal(answer.json.id, 7);
      assert.equal(answer.json.error.data.error, 'upstream_unavailable');
      assert.match(answer.json.error.message, /exited on SIGKILL/);

      const gone = await postRaw(`${gw.url}/mcp/notes`, JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'tools/list' }), { 'mcp-session-id': sid });
      assert.equal(gone.status, 404, 'the dead session is gone');
      const { client } = await connectClient(`${gw.url}/mcp/notes`);
      assert.ok((await client.listTools()).tools.length > 0, 'a new session works');
      await client.close();
    } finally {
      await gw.close();
    }
  });

  test('an SSE caller whose child dies gets an error event instead of a hang', async () => {
    const gw = await startGateway({ upstreams: { notes: { command: notesServerCommand(), setEnv: { WARDEN_DEMO_NOTES: '/tmp/warden-test-notes-kill.json' } } } });
    try {
      const { client } = await connectClient(`${gw.url}/mcp/notes`);
      const call = client.callTool({ name: 'count_slowly', arguments: { n: 30 } }, undefined, {
        onprogress: () => {
          try {
            process.kill(findChildPid(gw), 'SIGKILL');
          } catch {
            // already dead
          }
        },
      });
      await assert.rejects(call, /exited on SIGKILL/);
      await client.close();
    } finally {
      await gw.close();
    }
  });

  test('a child that cannot start gives 502 naming the problem', async () => {
    const gw = await startGateway({ upstreams: { broken: { command: ['/nonexistent/mcp-server'] } } });
    try {
      const init = await postRaw(`${gw.url}/mcp/broken`, JSON.stringify(INITIALIZE));
      assert.equal(init.status, 502);
      assert.match(init.json.error.message, /could not start.*not found/);
      assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
    } finally {
      await gw.close();
    }
  });

  test('live children are bounded: the session past sessions.max gets 503 with Retry-After', async () => {
    const gw = await startGateway({ upstreams: { notes: { command: notesServerCommand(), sessions: { max: 1 } } } });
    try {
      const first = await postRaw(`${gw.url}/mcp/notes`, JSON.stringify(INITIALIZE));
      assert.equal(first.status, 200);
      const second = await postRaw(`${gw.url}/mcp/notes`, JSON.stringify(INITIALIZE));
      assert.equal(second.status, 503);
      assert.equal(second.json.error.data.error, 'too_many_sessions');
      assert.ok(Number(second.headers.get('retry-after')) > 0);
      const del = await fetch(`${gw.url}/mcp/notes`, { method: 'DELETE', headers: { 'mcp-session-id': first.headers.get('mcp-session-id')! } });
      assert.equal(del.status, 200);
      const third = await postRaw(`${gw.url}/mcp/notes`, JSON.stringify(INITIALIZE));
      assert.equal(third.status, 200, 'ending a session frees its place');
    } finally {
      await gw.close();
    }
  });

  test('an idle session ends after sessions.idleTimeout and its id is then unknown', async () => {
    const gw = await startGateway({ upstreams: { notes: { command: notesServerCommand(), sessions: { idleTimeout: '1s' } } } });
    try {
      const init = await postRaw(`${gw.url}/mcp/notes`, JSON.stringify(INITIALIZE));
      const sid = init.headers.get('mcp-session-id')!;
      await sleep(1800);
      const after = await postRaw(`${gw.url}/mcp/notes`, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }), { 'mcp-session-id': sid });
      assert.equal(after.status, 404);
      assert.match(gw.logs.text, /idle timeout/);
    } finally {
      await gw.close();
    }
  });

  test('a call past the upstream timeout gets 504 and the session stays usable', async () => {
    const gw = await startGateway({ upstreams: { notes: { command: notesServerCommand(), timeout: '400ms' } } });
    try {
      const init = await postRaw(`${gw.url}/mcp/notes`, JSON.stringify(INITIALIZE));
      const sid = init.headers.get('mcp-session-id')!;
      // count_slowly without a progress token sends nothing for 2 s.
      const slow = await postRaw(`${gw.url}/mcp/notes`, JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'count_slowly', arguments: { n: 20 } } }), { 'mcp-session-id': sid });
      assert.equal(slow.status, 504);
      assert.equal(slow.json.error.data.error, 'upstream_timeout');
      const list = await postRaw(`${gw.url}/mcp/notes`, JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'tools/list' }), { 'mcp-session-id': sid });
      assert.equal(list.status, 200);
      assert.ok(list.json.result.tools.length > 0);
    } finally {
      await gw.close();
    }
  });
});

/** The pid of the only live child, from the gateway's own log line "session started". */
function findChildPid(gw: TestGateway): number {
  const started = gw.logs.lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'session started');
  return started.at(-1).pid as number;
}
