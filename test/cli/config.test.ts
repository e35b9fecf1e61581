import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { MAIN, ROOT, cliEnv, warden } from '../helpers/cli.js';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { ValidateFunction } from 'ajv';
import { parseConfigText } from '../../src/config/index.js';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** Starts `warden serve`, resolves once it says it is serving (or rejects with what it said), then stops it. */
async function serveUntilReady(config: string): Promise<{ url: string; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [MAIN, 'serve', '--config', config], { cwd: ROOT, env: cliEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not start within 10 s: ${stderr}`));
    }, 10_000);
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      const m = /warden: serving (\S+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${stderr}`));
    });
  });
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

function canListenOn(host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(0, host, () => server.close(() => resolve(true)));
  });
}

let dir: string;
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

before(() => {
  assert.ok(existsSync(MAIN), `${MAIN} is missing: run npx tsc -p tsconfig.json first`);
  dir = mkdtempSync(join(tmpdir(), 'warden-cli-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

const GOOD = 'upstreams:\n  notes:\n    url: http://127.0.0.1:3000/mcp\n  fs:\n    command: [node, server.js]\n';
const BAD_URL = 'listen:\n  port: 0\nupstreams:\n  notes:\n    url: ftp://127.0.0.1:3000/mcp\n';

const ipv6 = await canListenOn('::1');

describe('warden CLI', { concurrency: true }, () => {
  describe('warden config check', { concurrency: true }, () => {
    test('a mistake: exit 2, one stderr line naming the field and its line, nothing on stdout', async () => {
      const path = file('bad.yaml', BAD_URL);
      const run = await warden(['config', 'check', '--config', path]);
      assert.equal(run.code, 2, run.stderr);
      assert.equal(run.stdout, '');
      const lines = run.stderr.trimEnd().split('\n');
      const issueLines = lines.filter((l) => l.startsWith(path));
      assert.equal(issueLines.length, 1, run.stderr);
      assert.equal(issueLines[0], `${path}:5: upstreams.notes.url: expected an http:// or https:// URL`);
      assert.equal(lines.filter((l) => l.includes('upstreams.notes.url')).length, 1);
      assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
    });

    test('the shipped examples are valid', async () => {
      const example = fileURLToPath(new URL('../../examples/api-keys.yaml', import.meta.url));
      const run = await warden(['config', 'check', '--config', example]);
      assert.equal(run.code, 0, run.stderr);
    });

    test('the enterprise example: what the scenario turned on and what it requires', async () => {
      const example = fileURLToPath(new URL('../../examples/enterprise.yaml', import.meta.url));
      const run = await warden(['config', 'check', '--config', example], { IDP_ISSUER: 'https://login.example.com/realms/acme', METRICS_TOKEN: 'a-scrape-token-0123456789' });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /valid \(enterprise scenario/);
      assert.match(run.stdout, /audit\.outcomes = "all"/);
      assert.match(run.stdout, /metrics\.public = false/);
      assert.match(run.stdout, /auth\.jwt\.issuers must name at least one issuer/);
      assert.doesNotMatch(run.stdout, /login\.example\.com|scrape-token/, 'values from the environment are not printed');
    });

    test('a valid file: exit 0 and a one-line summary', async () => {
      const path = file('good.yaml', GOOD);
      const run = await warden(['config', 'check', '--config', path]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stderr, '');
      const [summary, ...explained] = run.stdout.trimEnd().split('\n');
      assert.equal(summary, `${path}: valid (local scenario, 2 upstreams: notes, fs)`);
      assert.deepEqual(explained, [
        "scenario 'local' set (the file can override each):", '  listen.host = "127.0.0.1"', '  listen.port = 8787',
        "scenario 'local' requires:", '  - auth: none is accepted on loopback only',
      ]);
    });

    test('--json with a mistake: exit 2 and parseable JSON on stdout', async () => {
      const path = file('bad-json.yaml', BAD_URL);
      const run = await warden(['config', 'check', '--config', path, '--json']);
      assert.equal(run.code, 2);
      const out = JSON.parse(run.stdout) as { ok: boolean; file: string; issues: { path: string; line?: number; message: string }[] };
      assert.equal(out.ok, false);
      assert.equal(out.file, path);
      assert.deepEqual(out.issues, [{ path: 'upstreams.notes.url', message: 'expected an http:// or https:// URL', line: 5 }]);
    });

    test('--json with a valid file: exit 0 and parseable JSON on stdout', async () => {
      const path = file('good-json.yaml', GOOD);
      const run = await warden(['config', 'check', '--config', path, '--json']);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(JSON.parse(run.stdout), {
        ok: true,
        file: path,
        scenario: 'local',
        scenarioDefaults: ['listen.host = "127.0.0.1"', 'listen.port = 8787'],
        scenarioRules: ['auth: none is accepted on loopback only'],
        listen: { host: '127.0.0.1', port: 8787 },
        upstreams: [
          { name: 'notes', kind: 'http', path: '/mcp/notes' },
          { name: 'fs', kind: 'stdio', path: '/mcp/fs' },
        ],
      });
    });

    test('a missing file: exit 2, and how to point at one', async () => {
      const path = join(dir, 'absent.yaml');
      const run = await warden(['config', 'check', '--config', path]);
      assert.equal(run.code, 2);
      assert.match(run.stderr, new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: no such file; pass --config PATH`));
    });

    test('a directory: exit 2 with a message, not a stack trace', async () => {
      const run = await warden(['config', 'check', '--config', dir]);
      assert.equal(run.code, 2, run.stderr);
      assert.doesNotMatch(run.stderr, /\n\s+at /);
    });
  });

  describe('warden config schema', { concurrency: true }, () => {
    let schema: Record<string, unknown>;
    let validate: ValidateFunction;

    before(async () => {
      const run = await warden(['config', 'schema']);
      assert.equal(run.code, 0, run.stderr);
      schema = JSON.parse(run.stdout) as Record<string, unknown>;
      const ajv = new Ajv2020.default({ strict: true, allErrors: true });
      addFormats.default(ajv);
      validate = ajv.compile(schema);
    });

    test('is a draft 2020-12 JSON Schema of an object that needs upstreams', () => {
      assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
      assert.equal(schema.type, 'object');
      assert.deepEqual(schema.required, ['upstreams']);
      assert.equal(schema.additionalProperties, false);
    });

    test('accepts a good config, which the loader accepts too', () => {
      const good = {
        scenario: 'local',
        listen: { host: '127.0.0.1', port: 8787 },
        http: { maxBodyBytes: 65536, allowedOrigins: ['http://localhost:6274'], shutdownGrace: '5s' },
        rateLimit: { perIp: { requestsPerSecond: 5, burst: 10 } },
        audit: { file: 'audit.jsonl', log: true },
        log: { level: 'debug' },
        upstreams: {
          notes: { url: 'https://notes.example.com/mcp', headers: { 'x-api-key': '${NOTES_KEY}' }, timeout: '30s', allow: { tools: ['get_*'] } },
          fs: { command: ['node', 'server.js'], env: ['HOME'], setEnv: { MODE: 'x' }, sessions: { max: 2, idleTimeout: 60000 } },
        },
      };
      assert.equal(validate(good), true, JSON.stringify(validate.errors));
      assert.doesNotThrow(() => parseConfigText(JSON.stringify(good), 'warden.json', { NOTES_KEY: 'k' }));
      assert.equal(validate({ upstreams: { notes: { url: 'http://127.0.0.1:3000/mcp' } } }), true);
    });

    test('rejects bad configs', () => {
      const bad: [string, unknown][] = [
        ['missing upstreams', { scenario: 'local' }],
        ['unknown top-level key', { listn: {}, upstreams: { notes: { url: 'http://x/mcp' } } }],
        ['unknown upstream key', { upstreams: { notes: { url: 'http://x/mcp', tiemout: '5s' } } }],
        ['port as words', { listen: { port: 'eighty' }, upstreams: { notes: { url: 'http://x/mcp' } } }],
        ['port out of range', { listen: { port: 70000 }, upstreams: { notes: { url: 'http://x/mcp' } } }],
        ['bad duration', { upstreams: { notes: { url: 'http://x/mcp', timeout: '5 minutes' } } }],
        ['unknown scenario', { scenario: 'mars', upstreams: { notes: { url: 'http://x/mcp' } } }],
        ['bad upstream name', { upstreams: { 'no/tes': { url: 'http://x/mcp' } } }],
        ['not a URL', { upstreams: { notes: { url: 'not a url' } } }],
        ['unknown log level', { log: { level: 'loud' }, upstreams: { notes: { url: 'http://x/mcp' } } }],
      ];
      for (const [why, config] of bad) assert.equal(validate(config), false, why);
    });
  });

  describe('warden serve, --version, unknown commands', { concurrency: true }, () => {
    test('serve with a non-loopback host and auth none: exit 2, says why and what to configure', async () => {
      const path = file('open.yaml', 'listen:\n  host: 0.0.0.0\n  port: 0\nupstreams:\n  notes:\n    url: http://127.0.0.1:3000/mcp\n');
      const run = await warden(['serve', '--config', path]);
      assert.equal(run.code, 2, `${run.signal ?? ''} ${run.stderr}`);
      assert.doesNotMatch(run.stderr, /serving/);
      assert.match(run.stderr, /warden: configuration error/);
      assert.match(run.stderr, new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: listen\\.host: refusing to listen on 0\\.0\\.0\\.0 with auth: none`));
      assert.match(run.stderr, /anyone who can reach it could call your tools/, 'why');
      assert.match(run.stderr, /listen on 127\.0\.0\.1 \(or ::1\)/, 'what to configure');
    });

    test('serve with scenario public and auth none: exit 2 at auth', async () => {
      const path = file('public.yaml', 'scenario: public\nupstreams:\n  notes:\n    url: http://127.0.0.1:3000/mcp\n');
      const run = await warden(['serve', '--config', path]);
      assert.equal(run.code, 2, `${run.signal ?? ''} ${run.stderr}`);
      assert.match(run.stderr, /auth: scenario 'public' requires authentication/);
    });

    test('serve with a bad --port is a usage error (exit 2)', async () => {
      const path = file('port.yaml', 'upstreams:\n  notes:\n    url: http://127.0.0.1:3000/mcp\n');
      const run = await warden(['serve', '--config', path, '--port', 'abc']);
      assert.equal(run.code, 2, run.stderr);
    });

    test('--version prints the package version', async () => {
      const run = await warden(['--version']);
      assert.equal(run.code, 0);
      assert.equal(run.stdout, `${VERSION}\n`);
    });

    test('an unknown command exits 2 and says so', async () => {
      const run = await warden(['bogus']);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /unknown command 'bogus'/);
    });
  });

  describe('warden serve on IPv6 loopback', { concurrency: true }, () => {
    test('listen.host ::1 serves', { skip: ipv6 ? false : 'no IPv6 loopback here' }, async () => {
      const path = file('v6.yaml', 'listen:\n  host: "::1"\n  port: 0\nlog:\n  level: warn\nupstreams:\n  notes:\n    url: http://127.0.0.1:3000/mcp\n');
      const server = await serveUntilReady(path);
      assert.match(server.url, /^http:\/\/\[::1\]:\d+\/mcp\/notes$/);
      assert.equal(await server.stop(), 0);
    });

    test('listen.host [::1], which the config accepts as loopback, serves too', {
      skip: ipv6 ? false : 'no IPv6 loopback here',
    }, async () => {
      const path = file('v6-brackets.yaml', 'listen:\n  host: "[::1]"\n  port: 0\nlog:\n  level: warn\nupstreams:\n  notes:\n    url: http://127.0.0.1:3000/mcp\n');
      const server = await serveUntilReady(path);
      assert.match(server.url, /^http:\/\/\[::1\]:\d+\/mcp\/notes$/);
      assert.equal(await server.stop(), 0);
    });
  });
});
