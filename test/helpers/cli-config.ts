import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIN } from './cli.js';
import type { OAuthModelRecord } from '../../src/store/index.js';

/** A config file and the store file it names (created by the first command that opens it). */
export interface CliConfig {
  file: string;
  db: string;
}

export interface CliConfigShape {
  /** The auth line as it stands in the YAML, e.g. `auth: { oauth: {} }`. */
  auth: string;
  /** authorization.scopes: scope -> its tools (default: notes:read and notes:write). */
  scopes?: Record<string, string[]>;
  /** authorization.roles: role -> its scopes (default: none). */
  roles?: Record<string, string[]>;
}

export const NOTES_SCOPES: Record<string, string[]> = { 'notes:read': ['search_notes'], 'notes:write': ['create_note'] };

const flow = (values: string[]): string => `[${values.map((v) => JSON.stringify(v)).join(', ')}]`;

/** The YAML: one `notes` upstream, the auth line, authorization (left out when it defines nothing), the store. */
export function cliConfigYaml(shape: CliConfigShape, db: string): string {
  const scopes = Object.entries(shape.scopes ?? NOTES_SCOPES).map(([scope, tools]) => `    ${JSON.stringify(scope)}: { tools: ${flow(tools)} }\n`);
  const roles = Object.entries(shape.roles ?? {}).map(([role, granted]) => `    ${role}: ${flow(granted)}\n`);
  const authorization = scopes.length + roles.length === 0 ? '' : `authorization:\n${
    scopes.length > 0 ? `  scopes:\n${scopes.join('')}` : ''}${roles.length > 0 ? `  roles:\n${roles.join('')}` : ''}`;
  return `upstreams: { notes: { url: "http://127.0.0.1:9/mcp" } }\n${shape.auth}\n${authorization}store: { sqlite: ${JSON.stringify(db)} }\n`;
}

/**
 * Config files for the CLI tests of one test file: each call writes a config of its own (its own store file),
 * so the tests run in parallel. Registers the file's hooks: before its tests, check that the CLI is built and
 * make a temporary folder; after them, remove it.
 */
export function cliConfigs(name: string, defaults: CliConfigShape): {
  /** A new config: the defaults, with another auth line (a string) or other parts. */
  config: (changes?: string | Partial<CliConfigShape>) => CliConfig;
  /** The temporary folder, for files of a test's own. */
  tempDir: () => string;
} {
  let dir: string | undefined;
  let n = 0;
  before(() => {
    assert.ok(existsSync(MAIN), `${MAIN} is missing: run npm run build first`);
    dir = mkdtempSync(join(tmpdir(), `warden-cli-${name}-`));
  });
  after(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  const tempDir = (): string => {
    assert.ok(dir !== undefined, 'cliConfigs: the temporary folder is made in a before hook');
    return dir;
  };
  const config = (changes: string | Partial<CliConfigShape> = {}): CliConfig => {
    const sub = join(tempDir(), `c${++n}`);
    const db = join(sub, 'w.db');
    const file = join(tempDir(), `c${n}.yaml`);
    writeFileSync(file, cliConfigYaml({ ...defaults, ...(typeof changes === 'string' ? { auth: changes } : changes) }, db));
    return { file, db };
  };
  return { config, tempDir };
}

export { withStore } from './store.js';

/** A record as oidc-provider saves it through the store's OAuth adapter. */
export function oauthRecord(model: string, id: string, payload: object, extra: Partial<OAuthModelRecord> = {}): OAuthModelRecord {
  return { model, id, payload: JSON.stringify(payload), grantId: null, userCode: null, uid: null, expiresAt: null, consumedAt: null, ...extra };
}
