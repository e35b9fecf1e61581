/**
 * Attack: two calls in one stdio session with the same progress token, so that one call's progress (and with
 * it the stream it rides on) goes to the other POST. Defence: the child gets a token of the gateway's own
 * per request, and progress goes back under the caller's token on the POST of the request it belongs to.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { postRaw, INITIALIZE } from '../helpers/client.js';
import { notesServerCommand } from '../helpers/upstreams.js';

/** Every `data:` message of an SSE body. */
const events = (text: string): any[] => text.split('\n').filter((l) => l.startsWith('data:')).map((l) => JSON.parse(l.slice(5)));

describe('attack: one progress token for two calls in flight in one stdio session', () => {
  let gw: TestGateway;
  let url: string;
  let headers: Record<string, string>;
  before(async () => {
    gw = await startGateway({ upstreams: { notes: { command: notesServerCommand(), setEnv: { WARDEN_DEMO_NOTES: '/tmp/warden-test-notes-progress.json' } } } });
    url = `${gw.url}/mcp/notes`;
    const init = await postRaw(url, JSON.stringify(INITIALIZE));
    headers = { 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-06-18' };
    await postRaw(url, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), headers);
  });
  after(() => gw.close());

  const count = (id: number, n: number, token: string | number) => postRaw(url, JSON.stringify({
    jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'count_slowly', arguments: { n }, _meta: { progressToken: token } },
  }), headers);

  test('each POST gets exactly its own progress, under the token it sent, then its own result', async () => {
    const [three, five] = await Promise.all([count(1, 3, 'same'), count(2, 5, 'same')]);
    for (const [answer, n] of [[three, 3], [five, 5]] as const) {
      const messages = events(answer.text);
      const progress = messages.filter((m) => m.method === 'notifications/progress');
      assert.deepEqual(progress.map((p) => `${p.params.progressToken} ${p.params.progress}/${p.params.total}`), Array.from({ length: n }, (_, i) => `same ${i + 1}/${n}`));
      assert.match(JSON.stringify(messages.at(-1)), new RegExp(`Counted to ${n}`));
    }
  });

  test('control: distinct tokens of both types come back as sent', async () => {
    const [a, b] = await Promise.all([count(3, 2, 42), count(4, 2, '42')]);
    assert.deepEqual(events(a.text).filter((m) => m.method).map((m) => m.params.progressToken), [42, 42]);
    assert.deepEqual(events(b.text).filter((m) => m.method).map((m) => m.params.progressToken), ['42', '42']);
  });

  test('a cancelled call ends its POST; the other call in flight keeps only its own progress', async () => {
    const cancelled = count(5, 6, 'c');
    await sleep(150);
    const bystander = count(6, 8, 'b');
    await sleep(100);
    await postRaw(url, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 5 } }), headers);
    const ended = await cancelled;
    assert.equal(ended.status, 200);
    assert.doesNotMatch(ended.text, /Counted to 6/);
    const seen = events((await bystander).text).filter((m) => m.method === 'notifications/progress').map((m) => m.params.progressToken);
    assert.equal(seen.length, 8);
    assert.ok(seen.every((t) => t === 'b'), `the bystander saw tokens ${seen.join(', ')}`);
  });
});
