import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText, loadConfigFile, ConfigError } from '../../src/config/index.js';

const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;
const NOTES = ['upstreams:', '  notes:', '    url: http://127.0.0.1:3000/mcp'];

function issuePaths(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfigText(text, 'warden.yaml', env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail('expected a ConfigError');
}

describe('config: authorization.cedar and authorization.authzen', () => {
  test('defaults, and paths relative to the config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warden-cedar-config-'));
    try {
      const file = join(dir, 'warden.yaml');
      writeFileSync(file, yaml('authorization:', '  cedar: { policies: ./policies, entities: ./e.json }', ...NOTES));
      const cedar = loadConfigFile(file).config.authorization.cedar!;
      assert.deepEqual(cedar, { policies: join(dir, 'policies'), entities: join(dir, 'e.json'), timeZone: 'UTC', cacheSize: 10_000, reload: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an unknown time zone, a short PDP token and a non-http PDP url are refused, each at its path', () => {
    assert.match(issuePaths(yaml('authorization:', '  cedar: { policies: ./p, timeZone: Mars/Olympus }', ...NOTES)).join('\n'), /^authorization\.cedar\.timeZone: expected an IANA time zone/m);
    assert.match(issuePaths(yaml('authorization:', '  cedar: { policies: ./p, authzenApi: { token: short } }', ...NOTES)).join('\n'), /^authorization\.cedar\.authzenApi\.token: use at least 32 characters/m);
    assert.match(issuePaths(yaml('authorization:', '  authzen: { url: "ftp://pdp.example" }', ...NOTES)).join('\n'), /^authorization\.authzen\.url:/m);
    const ok = parseConfigText(yaml('authorization:', '  authzen: { url: "https://pdp.example", timeout: 1s, token: "${PDP}" }', ...NOTES), 'warden.yaml', { PDP: 'x'.repeat(40) });
    assert.deepEqual(ok.config.authorization.authzen, { url: 'https://pdp.example', timeout: 1000, token: 'x'.repeat(40) }, 'control');
  });
});
