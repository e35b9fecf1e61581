import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  parseConfigText,
  loadConfigFile,
  resolveConfigPath,
  isLoopbackHost,
  ConfigError,
  type ConfigIssue,
} from '../../src/config/index.js';
import { applyScenarioDefaults } from '../../src/config/presets.js';

/** YAML from lines, so a test can say which line a mistake is on. */
const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;

/** A valid HTTP upstream block, to put after other settings. */
const NOTES = ['upstreams:', '  notes:', '    url: http://127.0.0.1:3000/mcp'];

function configError(text: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    parseConfigText(text, 'warden.yaml', env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected a ConfigError for:\n${text}`);
}

function issuesOf(text: string, env: NodeJS.ProcessEnv = {}): ConfigIssue[] {
  return configError(text, env).issues;
}

/** Exactly one issue, at `path` (and `line`, when given). */
function oneIssue(text: string, path: string, line?: number, env: NodeJS.ProcessEnv = {}): ConfigIssue {
  const issues = issuesOf(text, env);
  assert.equal(issues.length, 1, `expected one issue, got ${JSON.stringify(issues)}`);
  const issue = issues[0]!;
  assert.equal(issue.path, path);
  if (line !== undefined) assert.equal(issue.line, line, `line of ${JSON.stringify(issue)}`);
  return issue;
}

describe('parseConfigText: valid configurations and defaults', () => {
  test('a minimal file gets the local defaults', () => {
    const { config, secrets, file } = parseConfigText(yaml(...NOTES), 'my.yaml', {});
    assert.equal(file, 'my.yaml');
    assert.equal(secrets.size, 0);
    assert.equal(config.scenario, 'local');
    assert.equal(config.auth, 'none');
    assert.deepEqual(config.listen, { host: '127.0.0.1', port: 8787 });
    assert.deepEqual(config.rateLimit, { perIp: { requestsPerSecond: 200, burst: 1000 }, failedAuthPerIp: { requestsPerSecond: 1, burst: 30 }, perPrincipal: false, perKey: false });
    assert.equal(config.http.maxBodyBytes, 1_048_576);
    assert.equal(config.http.shutdownGrace, 10_000);
    assert.equal(config.http.trustProxy, 0);
    assert.deepEqual(config.http.allowedOrigins, []);
    assert.deepEqual(config.audit, { log: false, store: true, stdout: false, retainDays: 0, outcomes: 'all', arguments: { enabled: false, redactKeys: [], maxBytes: 2048 } });
    assert.equal(config.log.level, 'info');
    const notes = config.upstreams.notes!;
    assert.equal(notes.url, 'http://127.0.0.1:3000/mcp');
    assert.equal(notes.command, undefined);
    assert.equal(notes.timeout, 60_000);
    assert.deepEqual(notes.headers, {});
    assert.deepEqual(notes.sessions, { max: 32, idleTimeout: 15 * 60_000 });
    assert.equal(notes.allow, undefined);
  });

  test('a full file with a stdio and an HTTP upstream keeps every setting', () => {
    const { config } = parseConfigText(yaml(
      'listen:',
      '  host: localhost',
      '  port: 9000',
      'rateLimit:',
      '  perIp: false',
      'http:',
      '  maxBodyBytes: 4096',
      '  shutdownGrace: 2s',
      '  allowedOrigins: [http://localhost:6274]',
      'audit:',
      '  file: /var/log/warden.jsonl',
      '  log: false',
      'log:',
      '  level: debug',
      'upstreams:',
      '  fs:',
      '    command: [npx, "@modelcontextprotocol/server-everything", stdio]',
      '    cwd: /srv',
      '    env: [HOME, PATH]',
      '    setEnv: { MODE: test }',
      '    sessions: { max: 4, idleTimeout: 15m }',
      '    timeout: 500ms',
      '    allow:',
      '      tools: [echo, "get_*"]',
      '  notes:',
      '    url: https://notes.example.com/mcp',
      '    headers: { x-api-key: abc }',
      '    timeout: 1h',
    ), 'warden.yaml', {});
    assert.deepEqual(config.listen, { host: 'localhost', port: 9000 });
    assert.equal(config.rateLimit.perIp, false);
    assert.equal(config.http.maxBodyBytes, 4096);
    assert.equal(config.http.shutdownGrace, 2000);
    assert.deepEqual(config.http.allowedOrigins, ['http://localhost:6274']);
    assert.deepEqual(config.audit, { file: '/var/log/warden.jsonl', log: false, store: true, stdout: false, retainDays: 0, outcomes: 'all', arguments: { enabled: false, redactKeys: [], maxBytes: 2048 } });
    assert.equal(config.log.level, 'debug');
    const fs = config.upstreams.fs!;
    assert.deepEqual(fs.command, ['npx', '@modelcontextprotocol/server-everything', 'stdio']);
    assert.equal(fs.cwd, '/srv');
    assert.deepEqual(fs.env, ['HOME', 'PATH']);
    assert.deepEqual(fs.setEnv, { MODE: 'test' });
    assert.deepEqual(fs.sessions, { max: 4, idleTimeout: 15 * 60_000 });
    assert.equal(fs.timeout, 500);
    assert.deepEqual(fs.allow, { tools: ['echo', 'get_*'] });
    const notes = config.upstreams.notes!;
    assert.deepEqual(notes.headers, { 'x-api-key': 'abc' });
    assert.equal(notes.timeout, 3_600_000);
  });

  test('durations: strings in every unit, and plain numbers as milliseconds', () => {
    const timeoutOf = (value: string) =>
      parseConfigText(yaml(...NOTES, `    timeout: ${value}`), 'warden.yaml', {}).config.upstreams.notes!.timeout;
    assert.equal(timeoutOf('250ms'), 250);
    assert.equal(timeoutOf('30s'), 30_000);
    assert.equal(timeoutOf('15m'), 900_000);
    assert.equal(timeoutOf('2h'), 7_200_000);
    assert.equal(timeoutOf('7d'), 604_800_000);
    assert.equal(timeoutOf('1234'), 1234);
  });

  test('JSON file content is accepted (JSON is YAML), even indented with tabs', () => {
    const value = { listen: { port: 9001 }, upstreams: { notes: { url: 'http://127.0.0.1:3000/mcp', timeout: '5s' } } };
    for (const text of [JSON.stringify(value), JSON.stringify(value, null, 2), JSON.stringify(value, null, '\t')]) {
      const { config } = parseConfigText(text, 'warden.json', {});
      assert.equal(config.listen.port, 9001);
      assert.equal(config.listen.host, '127.0.0.1');
      assert.equal(config.upstreams.notes!.timeout, 5000);
    }
  });

  test('a mistake in a JSON file names the field and its line', () => {
    const text = JSON.stringify({ upstreams: { notes: { url: 'ftp://x/mcp' } } }, null, 2);
    const err = configError(text);
    assert.equal(err.issues.length, 1);
    assert.equal(err.issues[0]!.path, 'upstreams.notes.url');
    assert.equal(err.issues[0]!.line, 4);
  });

  test('valid upstream names', () => {
    for (const name of ['notes', 'A', 'notes-2_x', '9lives', 'a'.repeat(63)]) {
      const { config } = parseConfigText(yaml('upstreams:', `  ${name}:`, '    url: http://127.0.0.1:3000/mcp'), 'warden.yaml', {});
      assert.deepEqual(Object.keys(config.upstreams), [name]);
    }
  });
});

describe('parseConfigText: one clear issue per mistake', () => {
  test('wrong URL protocol', () => {
    const issue = oneIssue(yaml('upstreams:', '  notes:', '    url: ftp://127.0.0.1/mcp'), 'upstreams.notes.url', 3);
    assert.match(issue.message, /http:\/\/ or https:\/\//);
  });

  test('a URL that is not a URL', () => {
    const issue = oneIssue(yaml('upstreams:', '  notes:', '    url: not a url'), 'upstreams.notes.url', 3);
    assert.match(issue.message, /URL/);
  });

  test('publicUrl with a wrong protocol', () => {
    oneIssue(yaml('publicUrl: ws://gateway.example.com', ...NOTES), 'publicUrl', 1);
  });

  test('unknown key at the top level: names the key and its line', () => {
    const issue = oneIssue(yaml(...NOTES, 'listn:', '  port: 9000'), 'listn', 4);
    assert.match(issue.message, /unknown setting 'listn'/);
  });

  test('unknown key in an upstream: names the key and its line', () => {
    const issue = oneIssue(yaml(...NOTES, '    tiemout: 5s'), 'upstreams.notes.tiemout', 4);
    assert.match(issue.message, /unknown setting 'tiemout'; did you mean 'timeout'\?/);
  });

  test('an unknown key with no near match lists the keys known there', () => {
    const issue = oneIssue(yaml('listen: { host: 127.0.0.1, colour: blue }', ...NOTES), 'listen.colour', 1);
    assert.equal(issue.message, "unknown setting 'colour'; known here: host, port, tls");
  });

  test('a misspelled key inside a union (auth) is found in the branch it was meant for', () => {
    const issues = issuesOf(yaml('auth: { apiKey: {} }', 'authorization: { scopes: { s: { tools: [t] } } }', ...NOTES));
    assert.ok(issues.some((i) => i.path === 'auth.apiKey' && i.message === "unknown setting 'apiKey'; did you mean 'apiKeys'?"), JSON.stringify(issues));
  });

  test('a wrong type names the type expected and the type given, never a string value (it may be a secret)', () => {
    assert.equal(oneIssue(yaml('rateLimit: { perIp: 5 }', ...NOTES), 'rateLimit.perIp', 1).message, 'expected false or a mapping (key: value), got number (5)');
    assert.equal(oneIssue(yaml('audit: { stdout: "${TOKEN}" }', ...NOTES), 'audit.stdout', 1, { TOKEN: 's3cr3t-value' }).message, 'expected a boolean, got string');
    // Control: the same settings with the right types load.
    assert.doesNotThrow(() => parseConfigText(yaml('rateLimit: { perIp: false }', 'audit: { stdout: true }', ...NOTES)));
  });

  test('unknown key in an allow-list', () => {
    const issue = oneIssue(yaml(...NOTES, '    allow:', '      tool: [echo]'), 'upstreams.notes.allow.tool', 5);
    assert.match(issue.message, /'tool'/);
  });

  test('two unknown keys: one issue each, each at its own line', () => {
    const issues = issuesOf(yaml('listen:', '  host: 127.0.0.1', '  prot: 8080', ...NOTES, '    tiemout: 5s'));
    assert.deepEqual(issues.map((i) => [i.path, i.line]), [['listen.prot', 3], ['upstreams.notes.tiemout', 7]]);
  });

  test('bad durations', () => {
    for (const bad of ['5 minutes', '1.5s', '"-1s"', '10x', '-5']) {
      const issue = oneIssue(yaml(...NOTES, `    timeout: ${bad}`), 'upstreams.notes.timeout', 4);
      if (bad !== '-5') assert.match(issue.message, /duration such as/, bad);
    }
    oneIssue(yaml('http:', '  shutdownGrace: soon', ...NOTES), 'http.shutdownGrace', 2);
  });

  test('missing upstreams: one issue at upstreams', () => {
    oneIssue(yaml('scenario: local'), 'upstreams');
    oneIssue('', 'upstreams');
    oneIssue('# only a comment\n', 'upstreams');
  });

  test('missing upstreams: the message says what to add', () => {
    const issue = oneIssue(yaml('scenario: local'), 'upstreams');
    assert.match(issue.message, /at least one upstream/);
  });

  test('an empty upstreams mapping', () => {
    const issue = oneIssue(yaml('upstreams: {}'), 'upstreams', 1);
    assert.match(issue.message, /at least one upstream/);
  });

  test('both command and url', () => {
    const issue = oneIssue(yaml('upstreams:', '  notes:', '    command: [node, server.js]', '    url: http://127.0.0.1:3000/mcp'), 'upstreams.notes.url', 4);
    assert.match(issue.message, /not both/);
  });

  test('neither command nor url', () => {
    const issue = oneIssue(yaml('upstreams:', '  notes:', '    timeout: 5s'), 'upstreams.notes', 2);
    assert.match(issue.message, /command/);
    assert.match(issue.message, /url/);
  });

  test('an empty command', () => {
    const issue = oneIssue(yaml('upstreams:', '  notes:', '    command: []'), 'upstreams.notes.command', 3);
    assert.match(issue.message, /at least the program/);
  });

  test('headers on a stdio upstream', () => {
    const issue = oneIssue(yaml('upstreams:', '  notes:', '    command: [node, server.js]', '    headers:', '      x-api-key: abc'), 'upstreams.notes.headers', 4);
    assert.match(issue.message, /HTTP upstreams only/);
  });

  test('cwd on an HTTP upstream', () => {
    const issue = oneIssue(yaml(...NOTES, '    cwd: /srv'), 'upstreams.notes.cwd', 4);
    assert.match(issue.message, /stdio upstreams only/);
  });

  test('a reserved header name in headers: one issue at the header, on its line', () => {
    for (const name of ['mcp-session-id', 'Mcp-Session-Id', 'MCP-PROTOCOL-VERSION', 'host', 'Content-Length', 'last-event-id']) {
      oneIssue(yaml(...NOTES, '    headers:', `      ${name}: abc`), `upstreams.notes.headers.${name}`, 5);
    }
    // Other names are fine, whatever their case.
    const ok = parseConfigText(yaml(...NOTES, '    headers:', '      X-Api-Key: abc', '      authorization-not-reserved: x'), 'warden.yaml', {});
    assert.deepEqual(ok.config.upstreams.notes!.headers, { 'X-Api-Key': 'abc', 'authorization-not-reserved': 'x' });
  });

  test('a reserved header name: the message says why', () => {
    const issue = oneIssue(yaml(...NOTES, '    headers:', '      mcp-session-id: abc'), 'upstreams.notes.headers.mcp-session-id', 5);
    assert.match(issue.message, /set by the gateway/);
  });

  test('an invalid header name', () => {
    oneIssue(yaml(...NOTES, '    headers:', '      "bad header": abc'), 'upstreams.notes.headers.bad header', 5);
  });

  test('an invalid header name: the message says why', () => {
    const issue = oneIssue(yaml(...NOTES, '    headers:', '      "bad header": abc'), 'upstreams.notes.headers.bad header', 5);
    assert.match(issue.message, /header name/);
  });

  test('bad upstream names', () => {
    for (const name of ['no/tes', '-notes', '_x', 'a'.repeat(64), 'no tes']) {
      oneIssue(yaml('upstreams:', `  "${name}":`, '    url: http://127.0.0.1:3000/mcp'), `upstreams.${name}`, 2);
    }
  });

  test('a bad upstream name: the message says what names may be', () => {
    const issue = oneIssue(yaml('upstreams:', '  "no/tes":', '    url: http://127.0.0.1:3000/mcp'), 'upstreams.no/tes', 2);
    assert.match(issue.message, /letters, digits/);
  });

  test('auth that is neither none nor a mode', () => {
    const issue = oneIssue(yaml('auth: apikey', ...NOTES), 'auth', 1);
    assert.match(issue.message, /expected 'none' .* apiKeys/);
  });

  test('a wrong type names the array index', () => {
    oneIssue(yaml('upstreams:', '  notes:', '    command: [node, server.js, { a: 1 }]'), 'upstreams.notes.command.2', 3);
  });

  test('numbers in a command and a port given as a string of digits are taken as the text and number they mean', () => {
    const { config } = parseConfigText(yaml('listen: { port: "${PORT}" }', 'upstreams:', '  notes:', '    command: [node, server.js, --port, 8080]'), 'w.yaml', { PORT: '9999' });
    assert.deepEqual(config.upstreams.notes!.command, ['node', 'server.js', '--port', '8080']);
    assert.equal(config.listen.port, 9999);
  });

  test('YAML syntax error', () => {
    const issue = oneIssue(yaml('upstreams:', '  notes:', '    url: [http://x'), '');
    assert.match(issue.message, /^not valid YAML: /);
    assert.doesNotMatch(issue.message, /\n/, 'one line');
  });

  test('YAML syntax error: the issue has a line', () => {
    const issue = oneIssue(yaml('upstreams:', '  notes:', '    url: [http://x'), '');
    assert.equal(typeof issue.line, 'number');
  });

  test('a duplicate key is a YAML error', () => {
    const issue = oneIssue(yaml(...NOTES, '    url: http://127.0.0.1:4000/mcp'), '');
    assert.match(issue.message, /not valid YAML: .*unique/);
  });

  test('a file that is not a mapping', () => {
    for (const text of ['- a\n- b\n', 'just a string\n', '42\n']) {
      const issue = oneIssue(text, '');
      assert.match(issue.message, /must be a mapping/);
    }
  });

  test('ConfigError: format() is file:line: path: message, one line per issue', () => {
    const err = configError(yaml('listen:', '  prot: 1', ...NOTES, '    url2: x'));
    assert.equal(err.code, 'config_invalid');
    assert.equal(err.file, 'warden.yaml');
    const lines = err.format().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^warden\.yaml:2: listen\.prot: unknown setting 'prot'/);
    assert.match(lines[1]!, /^warden\.yaml:6: upstreams\.notes\.url2: unknown setting 'url2'/);
    assert.match(err.message, /listen\.prot: .*; upstreams\.notes\.url2: /);
  });
});

describe('parseConfigText: ${VAR} interpolation', () => {
  const KEY_HEADER = [...NOTES, '    headers:', '      x-api-key: "${NOTES_KEY}"'];

  test('a set variable is substituted and collected into secrets', () => {
    const { config, secrets } = parseConfigText(yaml(...KEY_HEADER), 'warden.yaml', { NOTES_KEY: 'sk-live-123456' });
    assert.deepEqual(config.upstreams.notes!.headers, { 'x-api-key': 'sk-live-123456' });
    assert.deepEqual([...secrets], ['sk-live-123456']);
  });

  test('a missing variable: names the variable, the field and the line, and says how to fix it', () => {
    const issue = oneIssue(yaml(...KEY_HEADER), 'upstreams.notes.headers.x-api-key', 5, {});
    assert.match(issue.message, /environment variable NOTES_KEY is not set/);
    assert.match(issue.message, /export it/);
    assert.match(issue.message, /\$\{NOTES_KEY:-default\}/);
  });

  test('an empty variable counts as missing', () => {
    const issue = oneIssue(yaml(...KEY_HEADER), 'upstreams.notes.headers.x-api-key', 5, { NOTES_KEY: '' });
    assert.match(issue.message, /NOTES_KEY/);
  });

  test('a missing variable inside an array names the index', () => {
    const issue = issuesOf(yaml('upstreams:', '  notes:', '    command: [node, "${SERVER_JS}"]'))[0]!;
    assert.equal(issue.path, 'upstreams.notes.command.1');
    assert.equal(issue.line, 3);
    assert.match(issue.message, /SERVER_JS/);
  });

  test('a missing variable gives one issue, not also the schema complaining about the empty string it became', {
  }, () => {
    oneIssue(yaml('upstreams:', '  notes:', '    url: "${NOTES_URL}"'), 'upstreams.notes.url', 3);
    oneIssue(yaml('upstreams:', '  notes:', '    command: [node, "${SERVER_JS}"]'), 'upstreams.notes.command.1', 3);
    oneIssue(yaml(...NOTES, '    timeout: "${TIMEOUT}"'), 'upstreams.notes.timeout', 4);
  });

  test('${VAR:-default}: the default when unset, the variable when set; defaults are not secrets', () => {
    const text = yaml('upstreams:', '  notes:', '    url: "${NOTES_URL:-http://127.0.0.1:3000}/mcp"');
    const unset = parseConfigText(text, 'warden.yaml', {});
    assert.equal(unset.config.upstreams.notes!.url, 'http://127.0.0.1:3000/mcp');
    assert.equal(unset.secrets.size, 0);
    const set = parseConfigText(text, 'warden.yaml', { NOTES_URL: 'https://notes.internal' });
    assert.equal(set.config.upstreams.notes!.url, 'https://notes.internal/mcp');
    assert.deepEqual([...set.secrets], ['https://notes.internal']);
    const empty = parseConfigText(yaml(...NOTES, '    headers:', '      x-tag: "${TAG:-}"'), 'warden.yaml', {});
    assert.deepEqual(empty.config.upstreams.notes!.headers, { 'x-tag': '' });
  });

  test('$${ writes a literal ${ and is neither looked up nor collected', () => {
    const { config, secrets } = parseConfigText(
      yaml(...NOTES, '    headers:', '      x-template: "$${NOTES_KEY} and $${x"'),
      'warden.yaml',
      { NOTES_KEY: 'sk-live-123456' },
    );
    assert.equal(config.upstreams.notes!.headers['x-template'], '${NOTES_KEY} and ${x');
    assert.equal(secrets.size, 0);
  });

  test('several references in one string, all collected', () => {
    const { config, secrets } = parseConfigText(
      yaml(...NOTES, '    headers:', '      authorization: "Basic ${USER_NAME}:${USER_PASS} $HOME"'),
      'warden.yaml',
      { USER_NAME: 'alice', USER_PASS: 'hunter22', HOME: '/home/alice' },
    );
    assert.equal(config.upstreams.notes!.headers.authorization, 'Basic alice:hunter22 $HOME', 'a bare $NAME is left alone');
    assert.deepEqual([...secrets].sort(), ['alice', 'hunter22']);
  });

  test('malformed references are refused', () => {
    for (const ref of ['${1BAD}', '${FOO', '${}', '${A-B}']) {
      const issue = oneIssue(yaml(...NOTES, '    headers:', `      x-api-key: "${ref}"`), 'upstreams.notes.headers.x-api-key', 5);
      assert.match(issue.message, /not a valid reference/, ref);
    }
  });

  test('an interpolated value does not leak into an error message', () => {
    const err = configError(yaml('upstreams:', '  notes:', '    url: "${NOTES_URL}"'), { NOTES_URL: 'ftp://bob:hunter22@notes.internal/mcp' });
    assert.equal(err.issues.length, 1);
    assert.equal(err.issues[0]!.path, 'upstreams.notes.url');
    assert.doesNotMatch(err.message, /hunter22/);
    assert.doesNotMatch(err.format(), /hunter22/);
  });
});

describe('parseConfigText: fail-closed scenario rules', () => {
  test('scenario public (or enterprise) with auth none is refused at auth', () => {
    for (const scenario of ['public', 'enterprise']) {
      for (const text of [
        yaml(`scenario: ${scenario}`, ...NOTES),
        yaml(`scenario: ${scenario}`, 'auth: none', 'listen:', '  host: 127.0.0.1', ...NOTES),
      ]) {
        const issue = oneIssue(text, 'auth');
        assert.match(issue.message, new RegExp(`scenario '${scenario}' requires authentication`));
        assert.match(issue.message, /auth: \{ apiKeys: \{\} \}/, 'says what to configure');
      }
    }
    // With auth written, the issue points at it.
    oneIssue(yaml('scenario: public', 'auth: none', ...NOTES), 'auth', 2);
  });

  test('scenario public with auth none: the issue has a line', () => {
    const issue = oneIssue(yaml('scenario: public', ...NOTES), 'auth');
    assert.equal(issue.line, 1);
  });

  test('a non-loopback host with auth none is refused, saying what to configure', () => {
    for (const host of ['0.0.0.0', '192.168.1.5', '::', '10.0.0.1', 'example.com', 'localhost.example.com', '127.0.0.1.nip.io']) {
      const issue = oneIssue(yaml('listen:', `  host: "${host}"`, ...NOTES), 'listen.host', 2);
      assert.ok(issue.message.includes(`refusing to listen on ${host} with auth: none`), issue.message);
      assert.match(issue.message, /listen on 127\.0\.0\.1 \(or ::1\)/);
      assert.match(issue.message, /auth: \{ apiKeys: \{\} \}/);
    }
  });

  test('loopback hosts are accepted', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', 'LocalHost', '::1', '[::1]']) {
      const { config } = parseConfigText(yaml('listen:', `  host: "${host}"`, ...NOTES), 'warden.yaml', {});
      assert.equal(config.listen.host, host);
    }
  });

  test('isLoopbackHost', () => {
    for (const h of ['127.0.0.1', '127.255.255.254', 'localhost', 'LOCALHOST', '::1', '[::1]']) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['0.0.0.0', '::', '[::]', '128.0.0.1', '127.0.0', '1127.0.0.1', '127.0.0.1.evil.com', 'localhost.evil.com', '::2', '']) {
      assert.equal(isLoopbackHost(h), false, h);
    }
  });
});

describe('parseConfigText: authentication and authorization', () => {
  const KEYS = ['auth:', '  apiKeys: {}'];
  const SCOPES = ['authorization:', '  scopes:', '    "notes:read": { tools: [search_notes, "get_*"] }'];

  test('API keys with scopes and roles: parsed with defaults, public scenario accepted', () => {
    const { config } = parseConfigText(yaml('scenario: public', 'publicUrl: https://mcp.example.com', ...KEYS, ...SCOPES, '  roles:', '    reader: ["notes:read"]', ...NOTES), 'warden.yaml', {});
    assert.deepEqual(config.auth, { apiKeys: {} });
    assert.deepEqual(config.authorization.scopes['notes:read'], { tools: ['search_notes', 'get_*'], resources: [], prompts: [] });
    assert.deepEqual(config.authorization.roles, { reader: ['notes:read'] });
    assert.deepEqual(config.store, { sqlite: './.warden/warden.db', synchronous: 'normal' });
    assert.deepEqual(config.upstreams.notes!.identity, { header: 'x-warden-identity', ttl: 120_000 });
    assert.equal(config.listen.host, '0.0.0.0');
  });

  test('`apiKeys: true` is the same as `apiKeys: {}`', () => {
    const { config } = parseConfigText(yaml('auth:', '  apiKeys: true', ...SCOPES, ...NOTES), 'warden.yaml', {});
    assert.deepEqual(config.auth, { apiKeys: {} });
  });

  test('authentication without any scope would deny everything: refused, saying what to add', () => {
    const issue = oneIssue(yaml(...KEYS, ...NOTES), 'authorization.scopes');
    assert.match(issue.message, /every call would be denied/);
  });

  test('authorization with auth none is refused: scopes need authenticated callers', () => {
    const issue = oneIssue(yaml(...SCOPES, ...NOTES), 'authorization', 1);
    assert.match(issue.message, /upstreams\.<name>\.allow/);
  });

  test('a role granting an undefined scope, and a scope naming an unknown upstream', () => {
    const role = oneIssue(yaml(...KEYS, ...SCOPES, '  roles:', '    reader: ["notes:raed"]', ...NOTES), 'authorization.roles.reader.0', 7);
    assert.match(role.message, /'notes:raed'/);
    const up = oneIssue(yaml(...KEYS, 'authorization:', '  scopes:', '    s: { upstreams: [nots], tools: [x] }', ...NOTES), 'authorization.scopes.s.upstreams.0');
    assert.match(up.message, /configured: notes/);
  });

  test('scope names follow RFC 6749 (no spaces or quotes)', () => {
    oneIssue(yaml(...KEYS, 'authorization:', '  scopes:', '    "notes read": { tools: [x] }', ...NOTES), 'authorization.scopes.notes read');
  });

  test('identity: a header the gateway owns is refused, audience is for HTTP upstreams only, ttl is bounded', () => {
    oneIssue(yaml(...KEYS, ...SCOPES, 'upstreams:', '  notes:', '    url: http://127.0.0.1:3000/mcp', '    identity: { header: mcp-session-id }'), 'upstreams.notes.identity.header');
    oneIssue(yaml(...KEYS, ...SCOPES, 'upstreams:', '  kid:', '    command: [node, s.js]', '    identity: { audience: x }'), 'upstreams.kid.identity.audience');
    oneIssue(yaml(...KEYS, ...SCOPES, 'upstreams:', '  notes:', '    url: http://127.0.0.1:3000/mcp', '    identity: { ttl: 2h }'), 'upstreams.notes.identity.ttl');
    const { config } = parseConfigText(yaml(...KEYS, ...SCOPES, 'upstreams:', '  notes:', '    url: http://127.0.0.1:3000/mcp', '    identity: false'), 'warden.yaml', {});
    assert.equal(config.upstreams.notes!.identity, false);
  });
});

describe('applyScenarioDefaults (presets)', () => {
  const upstreams = { notes: { url: 'http://127.0.0.1:3000/mcp' } };

  test('public: all interfaces, a tighter rate limit and a smaller body limit', () => {
    const out = applyScenarioDefaults({ scenario: 'public', upstreams });
    assert.deepEqual(out.listen, { host: '0.0.0.0', port: 8787 });
    assert.deepEqual(out.rateLimit, {
      perIp: { requestsPerSecond: 50, burst: 300 }, failedAuthPerIp: { requestsPerSecond: 0.5, burst: 20 },
      perPrincipal: { requestsPerSecond: 20, burst: 300 }, perKey: { requestsPerSecond: 20, burst: 300 },
    });
    assert.deepEqual(out.http, { maxBodyBytes: 262_144, maxConnectionsPerIp: 64 });
    assert.equal(out.upstreams, upstreams);
    assert.equal(out.scenario, 'public');
  });

  test('enterprise: all interfaces, the default rate limit', () => {
    const out = applyScenarioDefaults({ scenario: 'enterprise', upstreams });
    assert.deepEqual(out.listen, { host: '0.0.0.0', port: 8787 });
    assert.deepEqual(out.rateLimit, {
      perIp: { requestsPerSecond: 200, burst: 1000 }, failedAuthPerIp: { requestsPerSecond: 1, burst: 30 }, perPrincipal: { requestsPerSecond: 20, burst: 300 },
    });
    assert.equal(out.http, undefined);
  });

  test('local, no scenario, or an unknown one: loopback', () => {
    for (const raw of [{ scenario: 'local' }, {}, { scenario: 'mars' }, { scenario: 7 }]) {
      const out = applyScenarioDefaults({ ...raw, upstreams });
      assert.deepEqual(out.listen, { host: '127.0.0.1', port: 8787 }, JSON.stringify(raw));
      assert.equal(out.rateLimit, undefined);
    }
  });

  test('the file wins, key by key; arrays and scalars are replaced whole', () => {
    const out = applyScenarioDefaults({
      scenario: 'public',
      listen: { port: 9000 },
      http: { trustProxy: 1, allowedOrigins: ['https://a.example'] },
      rateLimit: { perIp: false },
      upstreams,
    });
    assert.deepEqual(out.listen, { host: '0.0.0.0', port: 9000 });
    assert.deepEqual(out.http, { maxBodyBytes: 262_144, maxConnectionsPerIp: 64, trustProxy: 1, allowedOrigins: ['https://a.example'] });
    assert.deepEqual(out.rateLimit, {
      perIp: false, failedAuthPerIp: { requestsPerSecond: 0.5, burst: 20 }, perPrincipal: { requestsPerSecond: 20, burst: 300 }, perKey: { requestsPerSecond: 20, burst: 300 },
    });
    const fromFile = applyScenarioDefaults({ scenario: 'public', listen: { host: '10.1.2.3' }, upstreams });
    assert.deepEqual(fromFile.listen, { host: '10.1.2.3', port: 8787 });
  });

  test('neither the input nor the presets are changed', () => {
    const raw = { scenario: 'public', listen: { port: 9000 }, upstreams };
    applyScenarioDefaults(raw);
    assert.deepEqual(raw, { scenario: 'public', listen: { port: 9000 }, upstreams });
    const again = applyScenarioDefaults({ scenario: 'public', upstreams });
    assert.deepEqual(again.listen, { host: '0.0.0.0', port: 8787 });
  });

  test('public defaults reach the parsed config only to be refused (auth none)', () => {
    const issues = issuesOf(yaml('scenario: public', ...NOTES));
    assert.deepEqual(issues.map((i) => i.path), ['auth']);
  });
});

describe('loadConfigFile', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'warden-load-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('a missing file: one issue for the file, saying how to point at one', () => {
    const file = join(dir, 'nope.yaml');
    assert.throws(() => loadConfigFile(file, {}), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.file, file);
      assert.equal(err.issues.length, 1);
      assert.equal(err.issues[0]!.path, '');
      assert.match(err.issues[0]!.message, /no such file/);
      assert.match(err.issues[0]!.message, /--config/);
      assert.match(err.issues[0]!.message, /WARDEN_CONFIG/);
      return true;
    });
  });

  test('a directory instead of a file is a config error', () => {
    assert.throws(() => loadConfigFile(dir, {}), ConfigError);
  });

  test('relative audit.file and cwd are resolved against the directory of the file', () => {
    const sub = join(dir, 'conf');
    mkdirSync(sub, { recursive: true });
    const file = join(sub, 'warden.yaml');
    writeFileSync(file, yaml(
      'audit:',
      '  file: logs/audit.jsonl',
      'upstreams:',
      '  fs:',
      '    command: [node, server.js]',
      '    cwd: ../srv',
      '  abs:',
      '    command: [node, server.js]',
      '    cwd: /opt/abs',
      '  plain:',
      '    command: [node, server.js]',
      '  notes:',
      '    url: http://127.0.0.1:3000/mcp',
    ));
    const { config, file: loadedFrom } = loadConfigFile(file, {});
    assert.equal(loadedFrom, file);
    assert.equal(config.audit.file, join(sub, 'logs', 'audit.jsonl'));
    assert.equal((config.store as { sqlite: string }).sqlite, join(sub, '.warden', 'warden.db'), 'the store too');
    assert.equal(config.upstreams.fs!.cwd, join(dir, 'srv'));
    assert.equal(config.upstreams.abs!.cwd, '/opt/abs');
    assert.equal(config.upstreams.plain!.cwd, undefined);
    assert.equal(config.upstreams.notes!.cwd, undefined);
  });

  test('an absolute audit.file is kept', () => {
    const file = join(dir, 'abs.yaml');
    writeFileSync(file, yaml('audit:', '  file: /var/log/audit.jsonl', ...NOTES));
    assert.equal(loadConfigFile(file, {}).config.audit.file, '/var/log/audit.jsonl');
  });

  test('uses the environment it is given, and reports issues with the file name', () => {
    const file = join(dir, 'env.yaml');
    writeFileSync(file, yaml(...NOTES, '    headers:', '      x-api-key: "${NOTES_KEY}"'));
    const { config, secrets } = loadConfigFile(file, { NOTES_KEY: 'sk-from-env' });
    assert.equal(config.upstreams.notes!.headers['x-api-key'], 'sk-from-env');
    assert.deepEqual([...secrets], ['sk-from-env']);
    assert.throws(() => loadConfigFile(file, {}), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.file, file);
      assert.match(err.format(), new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5: upstreams\\.notes\\.headers\\.x-api-key: `));
      return true;
    });
  });

  test('resolveConfigPath: --config, then WARDEN_CONFIG, then ./warden.yaml, always absolute', () => {
    assert.equal(resolveConfigPath('a/b.yaml', { WARDEN_CONFIG: '/etc/warden.yaml' }), resolve('a/b.yaml'));
    assert.equal(resolveConfigPath(undefined, { WARDEN_CONFIG: '/etc/warden.yaml' }), '/etc/warden.yaml');
    assert.equal(resolveConfigPath(undefined, {}), resolve('warden.yaml'));
  });
});

test('an upstream timeout of 0 is refused (it would mean "never" for HTTP and "at once" for stdio)', () => {
  assert.throws(() => parseConfigText('upstreams:\n  a: { url: "http://x/mcp", timeout: 0 }\n'), (err: ConfigError) => {
    assert.equal(err.issues.length, 1);
    assert.equal(err.issues[0]!.path, 'upstreams.a.timeout');
    return true;
  });
});

describe('auth.jwt: company IdPs', () => {
  const jwt = (...issuer: string[]) => yaml('scenario: enterprise', 'http: { trustProxy: 1 }', 'auth:', '  jwt:', '    issuers:', '      - issuer: https://login.example.com/realms/acme', ...issuer.map((l) => `        ${l}`),
    'authorization:', '  scopes: { "notes:read": { tools: [search_notes] } }', '  roles: { reader: ["notes:read"] }', ...NOTES);

  test('the issue\'s example is valid, with defaults for algorithms and use', () => {
    const { config } = parseConfigText(jwt('audiences: [api://mcp-gateway]', 'claims: { subject: sub, roles: groups, tenant: tid, scopes: scp }', 'roles: { "mcp-readers": [reader] }'));
    assert.ok(config.auth !== 'none');
    const idp = config.auth.jwt!.issuers[0]!;
    assert.deepEqual(idp.algorithms, ['RS256', 'PS256', 'ES256', 'EdDSA']);
    assert.deepEqual(idp.use, ['access-token']);
  });

  test('refused: alg none and HS256, by name', () => {
    for (const alg of ['none', 'HS256']) {
      const issue = oneIssue(jwt(`algorithms: [${alg}]`), 'auth.jwt.issuers.0.algorithms.0');
      assert.match(issue.message, /'none' and HS\* .* never accepted/);
    }
  });

  test('refused: an IdP over plain http beyond loopback', () => {
    assert.match(oneIssue(jwt('jwksUri: http://login.example.com/keys'), 'auth.jwt.issuers.0.jwksUri').message, /https/);
  });

  test('refused: a roles mapping to a role that does not exist, and sso without the embedded AS', () => {
    assert.match(oneIssue(jwt('claims: { roles: groups }', 'roles: { admins: [root] }'), 'auth.jwt.issuers.0.roles.admins.0').message, /authorization\.roles does not define/);
    assert.match(oneIssue(jwt('use: [sso]', 'sso: { clientId: warden, clientSecret: s3cret }'), 'auth.jwt.issuers.0.use').message, /auth\.oauth/);
  });
});

describe('scenario: enterprise', () => {
  // Behind a TLS proxy (http.trustProxy): without it, credentials over plain HTTP are refused (test/config/tls.test.ts).
  const head = ['scenario: enterprise', 'http: { trustProxy: 1 }', 'authorization:', '  scopes: { "notes:read": { tools: [search_notes] } }', '  roles: { reader: ["notes:read"] }'];
  const idp = ['  jwt: { issuers: [{ issuer: https://login.example.com }] }'];

  test('shorter token lifetimes are laid under auth.oauth only when the file turns it on, and the file wins', () => {
    const withOauth = parseConfigText(yaml(...head, 'publicUrl: https://mcp.example.com', 'auth:', ...idp, '  oauth: { refreshTokenTtl: 1d, localPasswords: true }', ...NOTES)).config;
    assert.ok(withOauth.auth !== 'none' && withOauth.auth.oauth);
    assert.equal(withOauth.auth.oauth.accessTokenTtl, 300_000);
    assert.equal(withOauth.auth.oauth.refreshTokenTtl, 86_400_000);
    const without = parseConfigText(yaml(...head, 'auth:', ...idp, ...NOTES)).config;
    assert.ok(without.auth !== 'none');
    assert.equal(without.auth.oauth, undefined, 'the preset does not turn the embedded AS on');
  });

  test('local passwords are off with the embedded AS: refused without a company sign-in, accepted with one', () => {
    const issue = oneIssue(yaml(...head, 'publicUrl: https://mcp.example.com', 'auth:', ...idp, '  oauth: {}', ...NOTES), 'auth.oauth.localPasswords');
    assert.match(issue.message, /no issuer signs people in/);
    const sso = ['  jwt: { issuers: [{ issuer: https://login.example.com, use: [sso], sso: { clientId: warden, clientSecret: s3cret } }] }'];
    const { config } = parseConfigText(yaml(...head, 'publicUrl: https://mcp.example.com', 'auth:', ...sso, '  oauth: {}', ...NOTES));
    assert.ok(config.auth !== 'none' && config.auth.oauth);
    assert.equal(config.auth.oauth.localPasswords, false);
    assert.match(oneIssue(yaml(...head, 'publicUrl: https://mcp.example.com', 'auth:', '  jwt: { issuers: [{ issuer: https://login.example.com, use: [sso] }] }', '  oauth: { localPasswords: true }', ...NOTES), 'auth.jwt.issuers.0.sso').message, /clientId/);
  });

  test('refused: no company IdP, audit off without a copy, public metrics — each naming the setting', () => {
    assert.match(oneIssue(yaml(...head, 'auth: { apiKeys: {} }', ...NOTES), 'auth.jwt').message, /trusts the company IdP/);
    assert.match(oneIssue(yaml(...head, 'auth:', ...idp, 'audit: { store: false }', ...NOTES), 'audit.store').message, /audits every decision/);
    assert.match(oneIssue(yaml(...head, 'auth:', ...idp, 'metrics: { public: true }', ...NOTES), 'metrics.public').message, /protects \/metrics/);
    // The control: audit to a file instead of the store is fine.
    parseConfigText(yaml(...head, 'auth:', ...idp, 'audit: { store: false, file: audit.jsonl }', ...NOTES));
  });
});

describe('IdP URLs that are not URLs', () => {
  test('an empty or garbled issuer is one clear issue, not a crash', () => {
    for (const issuer of ['""', '"not a url"', '"https://"']) {
      const text = ['auth:', '  jwt:', '    issuers:', `      - issuer: ${issuer}`, ...NOTES].join('\n');
      const issue = oneIssue(text, 'auth.jwt.issuers.0.issuer');
      assert.match(issue.message, /https:\/\/ URL/);
    }
  });
});
