import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIN, warden } from '../helpers/cli.js';
import { Terminal } from '../helpers/terminal.js';
import { startIdp, type TestIdp } from '../helpers/idp.js';

/**
 * `warden init`, with flags for scripts and as a person answers it in a real terminal (tmux: send-keys,
 * capture-pane). Every file it writes passes `warden config check` and `warden doctor`.
 */

let dir: string;
/** The company IdP of the enterprise answers: a real OIDC provider, so that doctor's discovery and JWKS probe passes. */
let idp: TestIdp;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'warden-init-'));
  idp = await startIdp();
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await idp.close();
});

async function checkedClean(file: string): Promise<void> {
  const check = await warden(['config', 'check', '-c', file]);
  assert.equal(check.code, 0, check.stderr);
  const doctor = await warden(['doctor', '-c', file, '--json']);
  assert.deepEqual(JSON.parse(doctor.stdout).findings, [], doctor.stdout);
  assert.equal(doctor.code, 0);
}

describe('warden init --yes (scripts)', () => {
  for (const [scenario, auth] of [['local', 'auth: none'], ['public', 'oauth:'], ['enterprise', 'oauth:']] as const) {
    test(`--scenario ${scenario}: a commented config that config check and doctor pass, and the next three commands`, async () => {
      const file = join(dir, `yes-${scenario}.yaml`);
      const issuer = scenario === 'enterprise' ? ['--idp-issuer', idp.issuer] : [];
      const run = await warden(['init', '--yes', '--scenario', scenario, '--upstream', 'demo', '--public-url', 'https://mcp.example.com', ...issuer, '-o', file]);
      assert.equal(run.code, 0, run.stderr);
      const text = readFileSync(file, 'utf8');
      assert.match(text, new RegExp(`^scenario: ${scenario}$`, 'm'));
      assert.ok(text.includes(auth));
      assert.match(text, /^# .+$/m, 'the reasons are comments');
      const next = run.stdout.split('next:\n')[1]!.trim().split('\n');
      assert.equal(next.length, 3);
      assert.match(next[0]!, /warden doctor -c /);
      await checkedClean(file);
    });
  }

  test('public with API keys and an HTTP server: a scope to fill in, named as such', async () => {
    const file = join(dir, 'keys.yaml');
    const run = await warden(['init', '--yes', '--scenario', 'public', '--idp', 'none', '--upstream', 'notes=http://127.0.0.1:9000/mcp', '--public-url', 'https://mcp.example.com', '-o', file]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /edit authorization\.scopes: name the tools/);
    assert.match(readFileSync(file, 'utf8'), /"notes:use": \{ upstreams: \[notes\], tools: \[\] \}/);
  });

  test('an existing file is never overwritten without --force (exit 1, file unchanged); --force overwrites', async () => {
    const file = join(dir, 'exists.yaml');
    writeFileSync(file, 'mine\n');
    const refused = await warden(['init', '--yes', '-o', file]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /exists; nothing written\. Pass --force/);
    assert.equal(readFileSync(file, 'utf8'), 'mine\n');
    const forced = await warden(['init', '--yes', '--force', '-o', file]);
    assert.equal(forced.code, 0);
    await checkedClean(file);
  });

  test('without --yes and without a terminal: exit 2, saying how to script it', async () => {
    const file = join(dir, 'no-tty.yaml');
    const run = await warden(['init', '-o', file]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /pass --yes with --scenario/);
    assert.ok(!existsSync(file));
  });

  test('a public address over http is refused', async () => {
    const run = await warden(['init', '--yes', '--scenario', 'public', '--public-url', 'http://mcp.example.com', '-o', join(dir, 'http.yaml')]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /must be https:\/\//);
  });
});

describe('warden init in a real terminal', () => {
  const cases = [
    { scenario: 'local', answers: ['1', '1', '1', '1'], url: undefined, expect: ['auth: none', 'listen: { host: 127.0.0.1'] },
    { scenario: 'public', answers: ['3', '2', '2', '1'], url: 'https://mcp.example.com', expect: ['oauth:', 'publicUrl: https://mcp.example.com'] },
    { scenario: 'enterprise', answers: ['4', '3', '3', '2'], url: 'https://mcp.corp.example', expect: ['oauth:', 'accessTokenTtl: 5m', 'synchronous: full', 'Okta exists'] },
  ];
  for (const c of cases) {
    test(`answering for the ${c.scenario} scenario`, async () => {
      const file = join(dir, `tty-${c.scenario}.yaml`);
      const term = new Terminal(`${process.execPath} ${MAIN} init -o ${file}; echo "exit=$?"; sleep 30`);
      try {
        const questions = [/Who are the users\?[\s\S]*> ?$/m, /What would unauthorised access cost\?[\s\S]*> ?$/m, /Where does the gateway run\?[\s\S]*> ?$/m, /What identity infrastructure exists\?[\s\S]*> ?$/m];
        for (const [i, q] of questions.entries()) {
          await term.waitFor(q);
          term.type(c.answers[i]!);
        }
        if (c.scenario === 'enterprise') {
          await term.waitFor(/The issuer URL of Okta/);
          term.type(idp.issuer);
        }
        if (c.url) {
          await term.waitFor(/The https address clients will use/);
          term.type(c.url);
        }
        await term.waitFor(/server 1 \(Enter: the demo notes server\): ?$/m);
        term.type('demo');
        await term.waitFor(/-> notes at \/mcp\/notes[\s\S]*server 2: ?$/m);
        term.type('');
        const screen = await term.waitFor(/exit=\d+/);
        assert.match(screen, /exit=0/);
        assert.match(screen, new RegExp(`wrote ${file} \\(${c.scenario} scenario`));
        assert.match(screen, /next:\n {2}warden doctor/);
      } finally {
        term.close();
      }
      const text = readFileSync(file, 'utf8');
      for (const e of c.expect) assert.ok(text.includes(e), `${e} in:\n${text}`);
      await checkedClean(file);
    });
  }

  test('an existing file: asked before overwriting; "n" leaves it and exits 1', async () => {
    const file = join(dir, 'tty-exists.yaml');
    writeFileSync(file, 'mine\n');
    const term = new Terminal(`${process.execPath} ${MAIN} init -o ${file}; echo "exit=$?"; sleep 30`);
    try {
      await term.waitFor(/exists\. Overwrite it\? \[y\/N\] ?$/m);
      term.type('n');
      const screen = await term.waitFor(/exit=\d+/);
      assert.match(screen, /nothing written\nexit=1/);
    } finally {
      term.close();
    }
    assert.equal(readFileSync(file, 'utf8'), 'mine\n');
  });
});
