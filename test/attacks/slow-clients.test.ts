import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../helpers/upstreams.js';
import { postRaw } from '../helpers/client.js';

/**
 * Issue 13, attack 5: connections that trickle their headers or body (slowloris), connections that say
 * nothing, and one address opening hundreds of connections. Each is closed within the configured time or
 * refused at once, while a legitimate client is served all along. Connections come from other loopback
 * addresses (127.0.0.2 …), so the per-address cap does not also stop the legitimate client on 127.0.0.1.
 */

const HEADERS_TIMEOUT = 3_000;
const REQUEST_TIMEOUT = 4_000;
const IDLE_TIMEOUT = 3_000;
/** Node checks the timeouts every quarter of the shorter one (at most 5 s); a little more for a busy machine. */
const SLACK = HEADERS_TIMEOUT / 4 + 1_500;

interface Held {
  socket: Socket;
  opened: number;
  closedAt?: number;
  received: string;
}

function open(port: number, localAddress: string, first: string): Promise<Held> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    const held: Held = { socket, opened: 0, received: '' };
    socket.on('data', (d) => (held.received += d.toString('latin1')));
    socket.on('close', () => (held.closedAt = Date.now()));
    socket.on('error', () => {});
    socket.once('connect', () => {
      held.opened = Date.now();
      if (first) socket.write(first);
      resolve(held);
    });
    socket.once('error', reject);
  });
}

/** Writes one byte every `everyMs` until the socket closes. */
function trickle(held: Held, everyMs: number): void {
  const timer = setInterval(() => {
    if (held.closedAt !== undefined || held.socket.destroyed) clearInterval(timer);
    else held.socket.write('a');
  }, everyMs);
  timer.unref();
}

async function waitUntil(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

describe('attack: slow and many connections', () => {
  let upstream: RunningHttpUpstream;
  let gw: TestGateway;
  let port: number;
  const held: Held[] = [];
  const legitimateCall = async () => {
    const res = await postRaw(`${gw.url}/mcp/web`, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'still here' } } }));
    return res.json?.result?.content?.[0]?.text;
  };

  before(async () => {
    upstream = await startHttpUpstream({ stateful: false, json: true });
    gw = await startGateway({
      upstreams: { web: { url: upstream.url } },
      http: { headersTimeout: HEADERS_TIMEOUT, requestTimeout: REQUEST_TIMEOUT, idleTimeout: IDLE_TIMEOUT, maxConnectionsPerIp: 100 },
    });
    port = Number(new URL(gw.url).port);
  });
  after(async () => {
    for (const h of held) h.socket.destroy();
    await gw.close();
    await upstream.close();
  });

  test('500 connections trickling headers: a legitimate client is served while they are open, and each is closed within http.headersTimeout', async () => {
    const slow: Held[] = [];
    for (let i = 0; i < 500; i++) {
      const h = await open(port, `127.0.0.${2 + (i % 10)}`, 'POST /mcp/web HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
      trickle(h, 500);
      slow.push(h);
    }
    held.push(...slow);
    assert.equal(slow.filter((h) => h.closedAt !== undefined).length, 0, 'all 500 are open');
    assert.equal(await legitimateCall(), 'still here', 'served while 500 slow connections are open');
    await waitUntil(() => slow.every((h) => h.closedAt !== undefined), HEADERS_TIMEOUT + SLACK + 2_000);
    const lifetimes = slow.map((h) => (h.closedAt ?? Infinity) - h.opened);
    assert.ok(Math.max(...lifetimes) <= HEADERS_TIMEOUT + SLACK + 2_000, `the slowest closed after ${Math.max(...lifetimes)} ms`);
    assert.ok(Math.min(...lifetimes) >= HEADERS_TIMEOUT - 100, 'not before the timeout');
    assert.match(slow[0]!.received, /^HTTP\/1\.1 408/, 'told why');
    assert.equal(await legitimateCall(), 'still here');
  });

  test('connections trickling a body are closed within http.requestTimeout with 408', async () => {
    const slow: Held[] = [];
    for (let i = 0; i < 20; i++) {
      const h = await open(port, '127.0.0.20', 'POST /mcp/web HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{');
      trickle(h, 300);
      slow.push(h);
    }
    held.push(...slow);
    assert.equal(await legitimateCall(), 'still here');
    await waitUntil(() => slow.every((h) => h.closedAt !== undefined), REQUEST_TIMEOUT + SLACK + 2_000);
    const lifetimes = slow.map((h) => (h.closedAt ?? Infinity) - h.opened);
    assert.ok(Math.max(...lifetimes) <= REQUEST_TIMEOUT + SLACK + 2_000, `the slowest closed after ${Math.max(...lifetimes)} ms`);
    assert.ok(slow.every((h) => h.received === '' || /^HTTP\/1\.1 408/.test(h.received)), 'a 408 or nothing');
  });

  test('a connection that never speaks is closed within http.headersTimeout or http.idleTimeout', async () => {
    const silent = await open(port, '127.0.0.21', '');
    held.push(silent);
    await waitUntil(() => silent.closedAt !== undefined, Math.max(HEADERS_TIMEOUT, IDLE_TIMEOUT) + SLACK + 2_000);
    assert.ok(silent.closedAt !== undefined, 'closed');
  });

  test('one address opening more than http.maxConnectionsPerIp: the excess is closed at once, others are served', async () => {
    const many: Held[] = [];
    for (let i = 0; i < 130; i++) many.push(await open(port, '127.0.0.30', ''));
    held.push(...many);
    await waitUntil(() => many.filter((h) => h.closedAt !== undefined).length >= 30, 2_000);
    const closedEarly = many.filter((h) => h.closedAt !== undefined && h.closedAt - h.opened < HEADERS_TIMEOUT - 500);
    assert.equal(closedEarly.length, 30, 'exactly the connections beyond the cap of 100');
    assert.equal(await legitimateCall(), 'still here', 'another address is served');
    for (const h of many) h.socket.destroy();
  });
});
