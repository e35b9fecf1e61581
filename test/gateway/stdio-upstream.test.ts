import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { connectClient, getJson, mcpBody, openStream, postRaw, INITIALIZE } from '../helpers/client.js';
import { everythingCommand, notesServerCommand } from '../helpers/upstreams.js';
import { configSchema, parseConfigText, type ConfigError } from '../../src/config/index.js';
import { perPrincipalCap } from '../../src/gateway/upstreams/stdio-admission.js';

const text = (result: unknown) => ((result as { content: { text: string }[] }).content[0]!.text);
const LIST = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });

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

  test('notifications about no one call (log messages while two calls run) go to the GET stream, not into a call\'s stream', async () => {
    const url = `${gw.url}/mcp/everything`;
    const session = await rawSession(url);
    const get = await fetch(url, { headers: { accept: 'text/event-stream', ...session } });
    assert.equal(get.status, 200);
    const onGet: string[] = [];
    const reading = (async () => {
      const reader = get.body!.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        onGet.push(value);
      }
    })().catch(() => {});
    await postRaw(url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'logging/setLevel', params: { level: 'debug' } }), session);
    await postRaw(url, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'toggle-simulated-logging', arguments: {} } }), session);
    // Two long calls at once (6 s, longer than the 5 s logging pace): a log message could belong to either.
    const long = (id: number) => postRaw(url, JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 6, steps: 2 } } }), session);
    const [a, b] = await Promise.all([long(3), long(4)]);
    for (const answer of [a, b]) {
      assert.equal(answer.status, 200);
      assert.doesNotMatch(answer.text, /notifications\/message/, 'no log message inside a call\'s answer');
    }
    await postRaw(url, JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'toggle-simulated-logging', arguments: {} } }), session);
    assert.match(onGet.join(''), /notifications\/message/, 'log messages arrived on the GET stream');
    await fetch(url, { method: 'DELETE', headers: session });
    await reading;
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

  test('live children are bounded: past sessions.max with every session busy → 503 with Retry-After, recorded; an idle one makes room', async () => {
    const gw = await startGateway({ upstreams: { notes: { command: notesServerCommand(), sessions: { max: 1 } } } });
    try {
      const url = `${gw.url}/mcp/notes`;
      const first = await postRaw(url, JSON.stringify(INITIALIZE));
      assert.equal(first.status, 200);
      const sid = first.headers.get('mcp-session-id')!;
      const stream = await openStream(url, sid); // an open GET stream: the session is busy, so it is not ended
      assert.equal(stream.status, 200);

      const second = await postRaw(url, JSON.stringify(INITIALIZE));
      assert.equal(second.status, 503);
      assert.equal(second.json.error.data.error, 'too_many_sessions');
      assert.match(second.json.error.message, /upstreams\.notes\.sessions\.max/);
      assert.ok(Number(second.headers.get('retry-after')) > 0);
      const denied = gw.audit.records.filter((r) => r.method === 'initialize' && r.decision === 'deny');
      assert.equal(denied.length, 1, 'the refusal is recorded');
      assert.match(denied[0]!.reason, /upstream is full \(upstreams\.notes\.sessions\.max = 1\)/);
      assert.equal((await postRaw(url, LIST, { 'mcp-session-id': sid })).status, 200, 'the busy session goes on');

      await stream.close();
      const third = await postRaw(url, JSON.stringify(INITIALIZE));
      assert.equal(third.status, 200, 'an idle session of the same principal makes room');
      assert.equal((await postRaw(url, LIST, { 'mcp-session-id': sid })).status, 404, 'the idle session was ended');
      assert.match(gw.logs.text, /evicted: its owner opened a new session/);

      const del = await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': third.headers.get('mcp-session-id')! } });
      assert.equal(del.status, 200);
      assert.equal((await postRaw(url, JSON.stringify(INITIALIZE))).status, 200, 'ending a session frees its place');
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

describe('stdio upstream: request ids, progress tokens and cancellation between caller and child', () => {
  let gw: TestGateway;
  let url: string;
  before(async () => {
    gw = await startGateway({ upstreams: { notes: { command: notesServerCommand(), setEnv: { WARDEN_DEMO_NOTES: '/tmp/warden-test-notes-ids.json' } } } });
    url = `${gw.url}/mcp/notes`;
  });
  after(() => gw.close());

  test('answers keep the type of the caller\'s id: 7 and "7" in flight at once, each gets its own answer', async () => {
    const session = await rawSession(url);
    const [numeric, textual, zero] = await Promise.all([
      postRaw(url, JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'count_slowly', arguments: { n: 2 } } }), session),
      postRaw(url, JSON.stringify({ jsonrpc: '2.0', id: '7', method: 'tools/list' }), session),
      postRaw(url, JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'ping' }), session),
    ]);
    assert.equal(numeric.status, 200);
    assert.strictEqual(mcpBody(numeric.text).id, 7);
    assert.match(JSON.stringify(mcpBody(numeric.text).result), /Counted to 2/);
    assert.equal(textual.status, 200);
    assert.strictEqual(textual.json.id, '7');
    assert.ok(Array.isArray(textual.json.result.tools));
    assert.strictEqual(zero.json.id, 0);
    assert.deepEqual(zero.json.result, {});
  });

  test('a caller\'s notifications/cancelled reaches the child under the child\'s id; one naming no request in flight is dropped', async () => {
    const session = await rawSession(url);
    const slow = (id: string | number, n: number) => postRaw(url, JSON.stringify({
      jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'count_slowly', arguments: { n }, _meta: { progressToken: `p-${id}` } },
    }), session);
    const cancel = (requestId: string | number) => postRaw(url, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId, reason: 'test' } }), session);

    // Control: a cancellation that names the id with the wrong type cancels nothing; the call completes.
    const kept = slow(99, 3);
    await sleep(150);
    assert.equal((await cancel('99')).status, 202);
    const keptAnswer = await kept;
    assert.match(keptAnswer.text, /Counted to 3/);
    assert.match(gw.logs.text, /dropped a cancellation of a request that is not in flight/);

    const started = Date.now();
    const job = slow('job-1', 8); // 800 ms when not cancelled
    await sleep(250);
    assert.equal((await cancel('job-1')).status, 202);
    const jobAnswer = await job;
    assert.ok(Date.now() - started < 700, 'the cancelled call ends at once');
    assert.match(jobAnswer.text, /"progressToken":"p-job-1"/, 'progress came back under the caller\'s token');
    assert.doesNotMatch(jobAnswer.text, /Counted to 8/);
    // Had the child not recognised the cancellation, it would answer after 800 ms, to nobody.
    await sleep(900);
    assert.doesNotMatch(gw.logs.text, /answer to a request nobody waits for any more/);
    const reused = await postRaw(url, JSON.stringify({ jsonrpc: '2.0', id: 'job-1', method: 'tools/list' }), session);
    assert.equal(reused.status, 200, 'the cancelled id is free again');

    // A JSON-only caller still gets a body for its cancelled request.
    const jsonJob = postRaw(url, JSON.stringify({ jsonrpc: '2.0', id: 12, method: 'tools/call', params: { name: 'count_slowly', arguments: { n: 8 } } }), { ...session, accept: 'application/json' });
    await sleep(150);
    await cancel(12);
    const jsonAnswer = await jsonJob;
    assert.equal(jsonAnswer.status, 200);
    assert.strictEqual(jsonAnswer.json.id, 12);
    assert.equal(jsonAnswer.json.error.code, -32800);
  });
});

describe('stdio upstream: sessions.perPrincipal', () => {
  test('defaults to an eighth of max (at least 1) with authentication, and to max with auth: none', async () => {
    const base = { command: notesServerCommand() };
    assert.equal(configSchema.parse({ upstreams: { n: base } }).upstreams.n!.sessions.perPrincipal, undefined);
    const gw = await startGateway({ upstreams: { a: { ...base, sessions: { max: 32 } }, b: { ...base, sessions: { max: 3 } } } });
    try {
      const ready = await getJson(`${gw.url}/readyz`);
      assert.equal(ready.upstreams.a.perPrincipal, 32, 'auth: none: everyone is anonymous, so the cap is max');
      assert.equal(ready.upstreams.b.perPrincipal, 3);
    } finally {
      await gw.close();
    }
    assert.equal(perPrincipalCap({ max: 32 }, false), 4);
    assert.equal(perPrincipalCap({ max: 3 }, false), 1);
    assert.equal(perPrincipalCap({ max: 32, perPrincipal: 10 }, false), 10);
  });

  test('config: more than max, below max with auth: none, or on an HTTP upstream is refused naming the path', () => {
    const ok = parseConfigText('upstreams:\n  n:\n    command: [node, s.js]\n    sessions: { max: 4, perPrincipal: 4 }\n');
    assert.equal(ok.config.upstreams.n!.sessions.perPrincipal, 4);
    assert.throws(
      () => parseConfigText('upstreams:\n  n:\n    command: [node, s.js]\n    sessions: { max: 4, perPrincipal: 5 }\n'),
      (err: ConfigError) => err.issues.some((i) => i.path === 'upstreams.n.sessions.perPrincipal' && /cannot be more than max/.test(i.message)),
    );
    assert.throws(
      () => parseConfigText('upstreams:\n  n:\n    command: [node, s.js]\n    sessions: { max: 4, perPrincipal: 2 }\n'),
      (err: ConfigError) => err.issues.some((i) => i.path === 'upstreams.n.sessions.perPrincipal' && /auth: none/.test(i.message)),
    );
    assert.throws(
      () => parseConfigText('upstreams:\n  n:\n    url: http://127.0.0.1:9/mcp\n    sessions: { perPrincipal: 2 }\n'),
      (err: ConfigError) => err.issues.some((i) => i.path === 'upstreams.n.sessions.perPrincipal' && /stdio upstreams only/.test(i.message)),
    );
  });
});

/** initialize and notifications/initialized by hand: the headers that name the session. */
async function rawSession(url: string): Promise<Record<string, string>> {
  const init = await postRaw(url, JSON.stringify(INITIALIZE));
  assert.equal(init.status, 200);
  const headers = { 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-06-18' };
  assert.equal((await postRaw(url, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), headers)).status, 202);
  return headers;
}

/** The pid of the only live child, from the gateway's own log line "session started". */
function findChildPid(gw: TestGateway): number {
  const started = gw.logs.lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'session started');
  return started.at(-1).pid as number;
}
