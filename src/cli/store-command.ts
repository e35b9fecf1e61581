import { hostname } from 'node:os';
import type { Command } from 'commander';
import type { WardenConfig } from '../config/index.js';
import type { Store } from '../store/index.js';
import type { AdminActor, AdminError, AdminServices } from '../admin/index.js';

/**
 * What the admin commands (`warden keys`, `users`, `clients`, `tokens`) share: their common options, and
 * `withStore`, which opens the store the config names, runs the command and closes the store before any exit.
 * Loaded at startup with every command's options: only type imports at the top, the rest when a command runs.
 */

export interface Common {
  config?: string;
  json?: boolean;
}

export const CONFIG_HELP = 'config file (default: $WARDEN_CONFIG or ./warden.yaml)';

/** A refusal decided by the command rather than by the store: withStore closes the store, then exits with `exitCode`. */
export class CliFailure extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

/** Adds the options every store command ends with (--config, --json) to `command`. */
export function withStoreOptions(command: Command): Command {
  return command.option('-c, --config <path>', CONFIG_HELP).option('--json', 'machine-readable output');
}

/** Option parser for a repeatable option. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export interface StoreEnv {
  config: WardenConfig;
  /** The config file, for messages. */
  file: string;
  store: Store;
  /** The admin services over the store, acting as the OS user. */
  admin: AdminServices;
}

/** The CLI acts as the OS user who runs it: it has no other identity, and whoever can run it can write the store anyway. */
export async function cliActor(): Promise<AdminActor> {
  const { userInfo } = await import('node:os');
  let subject = 'unknown';
  try {
    subject = userInfo().username;
  } catch {
    // no passwd entry (some containers): the record still says what was done
  }
  return { subject, credential: { kind: 'none', id: 'cli' } };
}

/** Where to look, for an admin error about something that does not exist. */
const NOT_FOUND_HINTS: Partial<Record<string, string>> = {
  api_key: '; `warden keys list` shows them',
  client: '; `warden clients list --all` shows them',
  grant: '; `warden clients show <client_id>` lists grants',
};

/** An admin refusal as the CLI tells it: exit 2 for a usage mistake, 1 for anything else. */
export function adminFailure(err: AdminError): Failure {
  const hint = err.code === 'not_found' && err.target ? NOT_FOUND_HINTS[err.target.kind] ?? '' : '';
  return { message: `${err.message}${hint}`, code: err.code === 'invalid_input' ? 2 : 1 };
}

/** How a failure ends the command: `warden: <message>` on stderr and exit `code`. */
export interface Failure {
  message: string;
  code: number;
}

export interface StoreCommand {
  /** A warning about the config, printed as `warden: warning: ...` before anything else is done. */
  warning?: (config: WardenConfig, file: string) => string | undefined;
  /** Checks (and prompts) that need no store, run before it is opened so that a usage mistake leaves no store file behind. */
  check?: (config: WardenConfig, file: string) => void | Promise<void>;
  run: (env: StoreEnv) => Promise<void>;
}

/** Loads the config, runs the checks, opens its store, runs the command, and closes the store before any exit. */
export async function withStore(opts: Common, command: StoreCommand): Promise<void> {
  const { loadConfigOrExit, fail } = await import('./output.js');
  const { openStore, StoreError } = await import('../store/index.js');
  const { AdminError } = await import('../admin/index.js');
  const { config, file } = loadConfigOrExit(opts.config, opts.json);
  const warning = command.warning?.(config, file);
  if (warning !== undefined) process.stderr.write(`warden: warning: ${warning}\n`);
  const { nativeModuleProblem } = await import('./runtime-notices.js');
  const failureOf = (err: unknown): Failure | undefined => {
    const native = nativeModuleProblem(err);
    if (native) return { message: native, code: 1 };
    if (err instanceof AdminError) return adminFailure(err);
    if (err instanceof CliFailure) return { message: err.message, code: err.exitCode };
    if (err instanceof StoreError) return { message: err.message, code: 1 };
    return undefined;
  };
  let store: Store;
  try {
    await command.check?.(config, file);
    store = await openStore(config);
  } catch (err) {
    const failure = failureOf(err);
    if (failure) return fail(failure.message, failure.code);
    throw err;
  }
  let failure: Failure | undefined;
  try {
    const { adminServices } = await import('../admin/index.js');
    const admin = adminServices({ store, config, actor: await cliActor(), instance: `cli@${hostname()}` });
    await command.run({ config, file, store, admin });
  } catch (err) {
    failure = failureOf(err);
    if (!failure) throw err;
  } finally {
    await store.close();
  }
  if (failure) fail(failure.message, failure.code);
}
