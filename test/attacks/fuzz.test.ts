import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../helpers/upstreams.js';
import { connectClient } from '../helpers/client.js';
import { keyedSetup, createKey, bearer } from '../helpers/keys.js';
import { remember } from '../helpers/oauth-flow.js';
import { describe as describeRequest, fuzzRequest, prng, type FuzzRequest } from '../helpers/fuzz.js';

/**
 * 10,000 malformed or random requests (seeded: FUZZ_SEED replays a run; FUZZ_COUNT changes the number) at a
 * gateway with API keys in front of a real MCP server, more than half of them with a valid key so that they
 * get past authentication into the body parser, authorize and forward. No answer may be a 5xx, and the gateway
 * must still answer /healthz and a real client afterwards.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20261203);
const COUNT = Number(process.env.FUZZ_COUNT ?? 10_000);
const CONCURRENCY = 16;

let upstream: RunningHttpUpstream;
let gw: TestGateway;
let key: string;

before(async () => {
  upstream = await startHttpUpstream({ stateful: false, json: true });
  const setup = keyedSetup('warden-fuzz-');
  ({ key } = await createKey(setup.dbPath, { subject: 'fuzzer', scopes: ['use'] }));
  remember(key);
  gw = await startGateway({
    ...setup.config,
    authorization: { scopes: { use: { tools: ['echo', 'secret_tool'], resources: ['test://*'], prompts: ['greet'] } } },
    upstreams: { web: { url: upstream.url } },
    // The per-IP and failed-authentication limits would answer most of 10,000 requests from one address with
    // 429 before they reach anything worth fuzzing: they are off here (their own tests are elsewhere).
    rateLimit: { perIp: false, failedAuthPerIp: false },
    // A body declared longer than sent is waited for until requestTimeout: short here, so the run stays short.
    http: { requestTimeout: 2_000, headersTimeout: 2_000 },
    log: { level: 'warn' },
  }, [key]);
});
after(async () => {
  await gw?.close();
  await upstream?.close();
});

interface Result {
  status?: number;
  error?: string;
}

/** Sends one request; keep-alive unless the request's framing lies (then its own connection, which it may spoil). */
function send(req: FuzzRequest, agent: Agent, port: number): Promise<Result> {
  if (req.raw) return sendRaw(req.raw, port);
  const ownConnection = req.framing !== 'ok' || (req.body?.length ?? 0) > 1_000_000;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      r.destroy();
      resolve({ error: 'no answer within 10 s' });
    }, 10_000);
    const r = request({
      host: '127.0.0.1', port, method: req.method, path: req.path, headers: req.headers,
      agent: ownConnection ? false : agent, ...(ownConnection ? { setHost: false } : {}),
    }, (res) => {
      // The status is the answer; an event stream (a GET that got through) stays open, so it is cut here.
      clearTimeout(timer);
      resolve({ status: res.statusCode! });
      if (String(res.headers['content-type']).startsWith('text/event-stream')) r.destroy();
      else res.resume();
      res.on('error', () => {});
    });
    r.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ error: err.code ?? err.message });
    });
    r.end(req.body);
  });
}

function sendRaw(bytes: Buffer, port: number): Promise<Result> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    const done = () => {
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1];
      resolve(status ? { status: Number(status) } : { error: 'closed without an answer' });
    };
    socket.setTimeout(5_000, () => socket.destroy());
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      if (/\r\n\r\n/.test(answer)) socket.destroy();
    });
    socket.on('close', done);
    socket.on('error', () => {});
    socket.end(bytes);
  });
}

test(`fuzz: ${COUNT} random and malformed requests (seed ${SEED}) get no 5xx, and the gateway still serves`, async () => {
  const { port, host } = new URL(gw.url);
  const r = prng(SEED);
  const requests = Array.from({ length: COUNT }, () => fuzzRequest(r, { key, host, endpoints: ['/mcp/web', '/mcp'] }));
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const results: Result[] = new Array(COUNT);
  // Requests that spoil or hold their own connection (broken framing, bodies promised and never sent) mostly
  // wait for the gateway's timeouts: they get a pool of their own, so that waiting does not slow the rest.
  const spoiling = (q: FuzzRequest) => q.raw !== undefined || q.framing !== 'ok' || (q.body?.length ?? 0) > 1_000_000;
  const pool = async (indices: number[], width: number) => {
    let next = 0;
    await Promise.all(Array.from({ length: width }, async () => {
      while (next < indices.length) {
        const i = indices[next++]!;
        results[i] = await send(requests[i]!, agent, Number(port));
      }
    }));
  };
  const all = requests.map((_, i) => i);
  const started = performance.now();
  await Promise.all([pool(all.filter((i) => !spoiling(requests[i]!)), CONCURRENCY), pool(all.filter((i) => spoiling(requests[i]!)), 4 * CONCURRENCY)]);
  agent.destroy();
  const seconds = (performance.now() - started) / 1000;

  const statuses = new Map<string, number>();
  for (const res of results) statuses.set(String(res.status ?? res.error), (statuses.get(String(res.status ?? res.error)) ?? 0) + 1);
  const authenticated = requests.filter((q) => JSON.stringify(q.headers.authorization ?? '') === JSON.stringify(`Bearer ${key}`)).length;
  console.log(`fuzz: ${COUNT} requests in ${seconds.toFixed(1)} s (seed ${SEED}), ${authenticated} with the valid key; answers: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);

  const serverErrors = results.flatMap((res, i) => (res.status !== undefined && res.status >= 500 ? [`${res.status} for #${i}: ${describeRequest(requests[i]!, key)}`] : []));
  for (const line of serverErrors.slice(0, 20)) console.log(line);
  assert.deepEqual(serverErrors, [], `${serverErrors.length} answers with status >= 500`);

  // No answer is acceptable only where the request itself made one impossible: broken framing, a body
  // promised and never sent, or an oversized body the gateway closes on instead of reading.
  const unanswered = results.flatMap((res, i) => {
    const q = requests[i]!;
    return res.status === undefined && !spoiling(q) ? [`${res.error} for #${i}: ${describeRequest(q, key)}`] : [];
  });
  for (const line of unanswered.slice(0, 20)) console.log(line);
  assert.deepEqual(unanswered, [], `${unanswered.length} well-framed requests got no answer`);

  // The run reached every step: refusals at the edge and in authentication, parse errors, and forwarded calls.
  for (const status of [200, 400, 401, 403, 404]) assert.ok((statuses.get(String(status)) ?? 0) > 0, `some answers were ${status}`);
  assert.ok(authenticated > COUNT / 4, `${authenticated} requests carried the valid key`);
  assert.ok(upstream.seen.length > 100, `${upstream.seen.length} requests reached the upstream`);

  assert.deepEqual(await (await fetch(`${gw.url}/healthz`)).json(), { status: 'ok' });
  const { client } = await connectClient(`${gw.url}/mcp/web`, bearer(key));
  const result = await client.callTool({ name: 'echo', arguments: { text: 'after the fuzz' } });
  assert.equal((result.content as { text: string }[])[0]!.text, 'after the fuzz');
  await client.close();
});
