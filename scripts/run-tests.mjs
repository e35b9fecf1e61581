#!/usr/bin/env node
// Runs every test/**/*.test.ts on Node's own test runner, with TypeScript through tsx.
// (Node 20's --test takes no globs, so the files are listed here.)
// Then the no-secret sweep: the helpers of every test file record the secrets they made and the outputs they
// saw into a fresh folder named in WARDEN_SECRET_SWEEP, and SWEEP, run after all the others, searches them.
// It runs with the whole suite, or when named.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { spawnSync } from 'node:child_process';

const SWEEP = join('test', 'attacks', 'no-secret-sweep.test.ts');

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return find(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

const only = process.argv.slice(2);
const files = only.length > 0 ? only : find('test').sort();
const others = files.filter((f) => normalize(f) !== SWEEP);
const sweep = only.length === 0 || others.length < files.length;
const folder = mkdtempSync(join(tmpdir(), 'warden-sweep-'));
const failed = [];
const run = (list) => {
  // TAP as before, and a list of the failed tests, repeated at the very end where a truncated log still shows it.
  const failures = join(mkdtempSync(join(tmpdir(), 'warden-failures-')), 'failures.txt');
  const status = spawnSync(process.execPath, [
    '--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=120000',
    '--test-reporter=tap', '--test-reporter-destination=stdout',
    '--test-reporter=./scripts/failures-reporter.mjs', `--test-reporter-destination=${failures}`,
    ...list,
  ], {
    stdio: 'inherit',
    env: { ...process.env, WARDEN_SECRET_SWEEP: folder },
  }).status ?? 1;
  try { failed.push(readFileSync(failures, 'utf8')); } catch { /* the runner died before writing any */ }
  rmSync(dirname(failures), { recursive: true, force: true });
  return status;
};

let status = others.length > 0 ? run(others) : 0;
if (sweep) status = run([SWEEP]) || status;
rmSync(folder, { recursive: true, force: true });
const list = failed.join('').trim();
if (status !== 0) console.log(`\n# FAILED (exit ${status})${list ? `:\n${list.replace(/^/gm, '# ')}` : ', and no test named itself: see the output above'}`);
process.exit(status);
