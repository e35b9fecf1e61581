import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

test('decisions then list items in one process: no V8 abort (JS-to-Wasm inlining off, src/policy/cedar/wasm.ts)', () => {
  const script = fileURLToPath(new URL('./fixtures/decide-then-list.ts', import.meta.url));
  const run = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 90_000 });
  assert.equal(run.signal, null, `killed by ${run.signal}: ${run.stderr.slice(0, 500)}`);
  assert.equal(run.status, 0, run.stderr.slice(0, 500));
  assert.equal(run.stdout.trim(), 'survived');
});
