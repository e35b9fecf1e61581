import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Issue 14: every check of the official conformance suite (`@modelcontextprotocol/conformance`, newest
 * prerelease) that passes against a server directly passes through the gateway, with the server as an HTTP
 * upstream and as a stdio upstream, for both protocol eras. bench/conformance.ts does the runs and the
 * comparison; this test holds its verdict.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('conformance suite: no check that passes directly fails through the gateway (HTTP and stdio upstreams, both eras)', { timeout: 600_000 }, async () => {
  const { stdout, code } = await new Promise<{ stdout: string; code: number | null }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'bench/conformance.ts', '--json'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024, timeout: 590_000 }, (err, out) => {
      resolve({ stdout: out, code: err ? (typeof err.code === 'number' ? err.code : 1) : 0 });
    });
  });
  const report = JSON.parse(stdout) as Record<string, { targets: Record<string, { passed: number; total: number }>; regressions: Record<string, string[]>; notRun: Record<string, string[]> }>;
  for (const era of ['2025-11-25', '2026-07-28']) {
    const entry = report[era];
    assert.ok(entry, `${era} was run`);
    const direct = entry.targets.direct!;
    assert.ok(direct.passed >= 20, `${era}: the suite ran (${direct.passed} of ${direct.total} checks passed directly)`);
    for (const target of ['gateway → HTTP', 'gateway → stdio']) {
      assert.deepEqual(entry.regressions[target], [], `${era}, ${target}: passed directly, failed through the gateway`);
      assert.ok(entry.targets[target]!.passed >= direct.passed - entry.notRun[target]!.length, `${era}, ${target}: every check that ran and passed directly passes here`);
    }
  }
  assert.equal(code, 0);
});
