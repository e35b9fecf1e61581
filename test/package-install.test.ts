import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { copyFileSync, createReadStream, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers/cli.js';
import { connectClient } from './helpers/client.js';

/**
 * The package as a user gets it: `npm pack`, then `npm install -g` of the tarball into an empty prefix, and
 * `warden` from that prefix's PATH, in a directory with no access to the source tree.
 *
 * better-sqlite3's native module: its install script (prebuild-install) downloads a prebuilt binary from
 * GitHub, which this machine cannot reach; it would then compile for about 80 s. Users behind such a wall
 * set `npm_config_better_sqlite3_binary_host_mirror` to a mirror of those binaries; the test does exactly
 * that, with a mirror on loopback serving the binary this checkout built. So the install script runs as for
 * a user, only the host differs. The dependencies come from npm's cache (--prefer-offline).
 */

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

/** Runs a command to its end. Asynchronous: the binary mirror below answers from this same process. */
async function sh(cmd: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<string> {
  const env = { ...process.env, ...options.env };
  delete env.NODE_OPTIONS;
  delete env.NODE_TEST_CONTEXT;
  delete env.WARDEN_CONFIG;
  const child = spawn(cmd, args, { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  assert.equal(code, 0, `${cmd} ${args.join(' ')} exited ${code}\n${out}\n${err}`);
  return out;
}

/** A prebuild-install mirror on loopback: the binary this checkout built, named as GitHub releases name it. */
async function binaryMirror(dir: string): Promise<{ url: string; close: () => void; requests: string[] }> {
  const version = (JSON.parse(readFileSync(join(ROOT, 'node_modules/better-sqlite3/package.json'), 'utf8')) as { version: string }).version;
  const staging = join(dir, 'prebuild');
  mkdirSync(join(staging, 'build/Release'), { recursive: true });
  copyFileSync(join(ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'), join(staging, 'build/Release/better_sqlite3.node'));
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  execFileSync('tar', ['czf', join(dir, name), '-C', staging, 'build']);
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url!);
    if (req.url === `/v${version}/${name}`) createReadStream(join(dir, name)).pipe(res.writeHead(200, { 'content-type': 'application/gzip' }));
    else res.writeHead(404).end();
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => server.close(), requests };
}

test('npm pack → npm install -g into an empty prefix → warden --version, init, config check, doctor, demo', { timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-install-'));
  const mirror = await binaryMirror(dir);
  try {
    let started = Date.now();
    await sh('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT });
    const tarball = join(dir, readdirSync(dir).find((f) => /^mcp-warden-.*\.tgz$/.test(f))!);
    const packMs = Date.now() - started;
    const listing = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' });
    assert.match(listing, /package\/dist\/demo\/notes-server\.js/, 'the demo server is in the package');
    assert.doesNotMatch(listing, /package\/(src|test)\//, 'sources and tests are not');

    const prefix = join(dir, 'prefix');
    started = Date.now();
    await sh('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], {
      // --allow-scripts: npm 11 asks global installs to name the packages whose install scripts may run.
      cwd: dir, env: { npm_config_better_sqlite3_binary_host_mirror: mirror.url, npm_config_allow_scripts: 'better-sqlite3' },
    });
    const installMs = Date.now() - started;
    assert.equal(mirror.requests.length, 1, 'better-sqlite3 fetched its prebuilt binary (no compiler needed)');
    t.diagnostic(`npm pack ${packMs} ms, npm install -g ${installMs} ms`);

    // A directory of the user's own, far from the checkout; `warden` found on the PATH.
    const work = join(dir, 'work');
    mkdirSync(work);
    const env = { PATH: `${join(prefix, 'bin')}:${process.env.PATH}` };
    const warden = (...args: string[]) => sh('warden', args, { cwd: work, env });
    assert.equal((await warden('--version')).trim(), pkg.version);
    // `npx mcp-warden` runs the bin named like the package.
    assert.equal((await sh('mcp-warden', ['--version'], { cwd: work, env })).trim(), pkg.version);
    assert.match(await warden('init', '--yes', '--scenario', 'local', '--upstream', 'demo'), /next:\n {2}warden doctor/);
    assert.match(await warden('config', 'check'), /warden\.yaml: valid \(local scenario, 1 upstream: notes\)/);
    assert.match(await warden('doctor'), /no problems found/);

    const demo = spawn('warden', ['demo', '--port', '0', '--json'], { cwd: work, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const [line] = (await once(demo.stdout!, 'data')) as [Buffer];
      const { url } = JSON.parse(line.toString()) as { url: string };
      const { client } = await connectClient(url);
      const tools = (await client.listTools()).tools.map((x) => x.name);
      assert.ok(tools.includes('search_notes') && !tools.includes('delete_note'), tools.join(','));
      await client.close();
    } finally {
      demo.kill('SIGTERM');
      await once(demo, 'exit');
    }

    // Without the native module (an install whose script could not fetch or build it): what is wrong and how to fix it.
    rmSync(join(prefix, 'lib/node_modules/mcp-warden/node_modules/better-sqlite3/build'), { recursive: true });
    const broken = spawn('warden', ['keys', 'list'], { cwd: work, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    broken.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const [code] = (await once(broken, 'close')) as [number];
    assert.equal(code, 1);
    assert.match(stderr, /the SQLite module \(better-sqlite3\) cannot be loaded/);
    assert.match(stderr, /--allow-scripts=better-sqlite3 --foreground-scripts/);
    assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
  } finally {
    mirror.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
