/**
 * Attack (or plain use): clients that never end their sessions — most do not send DELETE — used to fill a
 * stdio upstream's `sessions.max` and lock everyone out; `warden demo` stopped answering after 32 of them.
 * Defence: with auth: none everyone is one principal, and its least recently used idle session makes room.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { connectClient } from '../helpers/client.js';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

test('warden demo --max-sessions: 40 clients in a row that never end their sessions all get in (idle sessions make room)', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'warden-demo-'));
  const proc = spawn(process.execPath, [CLI, 'demo', '--port', '0', '--host', '127.0.0.1', '--max-sessions', '4', '--json', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(proc, 'exit');
  try {
    const [line] = (await once(proc.stdout!, 'data')) as [Buffer];
    const info = JSON.parse(line.toString()) as { url: string };
    for (let i = 0; i < 40; i++) {
      // Like the Inspector CLI or a short-lived agent: connect, use, leave without DELETE.
      const { client } = await connectClient(info.url);
      assert.ok((await client.listTools()).tools.length > 0, `client ${i + 1}`);
      await client.close();
    }
    const ready = (await (await fetch(new URL('/readyz', info.url))).json()) as { upstreams: { notes: { sessions: number; maxSessions: number } } };
    assert.equal(ready.upstreams.notes.maxSessions, 4);
    assert.ok(ready.upstreams.notes.sessions <= 4, `live sessions: ${ready.upstreams.notes.sessions}`);
  } finally {
    proc.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0);
  }
});
