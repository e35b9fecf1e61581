import type { Command } from 'commander';
import type { WardenConfig } from '../config/index.js';
import type { Store } from '../store/index.js';
import type { AdminTargetKind } from '../audit/index.js';
import { known } from './format.js';

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

/** Refuses (exit 2) the first of `given` that the config does not define in `where`. */
export function checkDefined(what: string, given: string[], defined: string[], where: string, shown = (s: string) => s): void {
  const unknown = given.find((g) => !defined.includes(g));
  if (unknown === undefined) return;
  throw new CliFailure(`unknown ${what} '${shown(unknown)}': ${where} does not define it (${known(defined)})`, 2);
}

/** Appends an admin record (action, target, what changed) to the audit chain. */
export type AdminRecorder = (action: string, target: string, reason: string, targetKind?: AdminTargetKind) => Promise<void>;

export interface StoreEnv {
  config: WardenConfig;
  /** The config file, for messages. */
  file: string;
  store: Store;
  record: AdminRecorder;
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
  /** The failure for one of the command's own typed errors, undefined for any other (CliFailure and StoreError need none). */
  failure?: (err: unknown) => Failure | undefined;
}

/** Loads the config, runs the checks, opens its store, runs the command, and closes the store before any exit. */
export async function withStore(opts: Common, command: StoreCommand): Promise<void> {
  const { loadConfigOrExit, fail } = await import('./output.js');
  const { openStore, StoreError } = await import('../store/index.js');
  const { config, file } = loadConfigOrExit(opts.config, opts.json);
  const warning = command.warning?.(config, file);
  if (warning !== undefined) process.stderr.write(`warden: warning: ${warning}\n`);
  const failureOf = (err: unknown): Failure | undefined => {
    const own = command.failure?.(err);
    if (own) return own;
    if (err instanceof CliFailure) return { message: err.message, code: err.exitCode };
    if (err instanceof StoreError) return { message: err.message, code: 1 };
    return undefined;
  };
  let store: Store;
  try {
    await command.check?.(config, file);
    store = openStore(config);
  } catch (err) {
    const failure = failureOf(err);
    if (failure) return fail(failure.message, failure.code);
    throw err;
  }
  let failure: Failure | undefined;
  try {
    const { adminRecord, auditInstance, sealAuditRecord } = await import('../audit/index.js');
    const opened = store;
    // Admin actions join the same tamper-evident chain as the gateway's records (when the store keeps one).
    const record: AdminRecorder = async (action, target, reason, targetKind) => {
      if (!config.audit.store) return;
      await opened.audit.append([adminRecord(action, target, reason, auditInstance(config.audit.instance), new Date(), targetKind)], sealAuditRecord);
    };
    await command.run({ config, file, store, record });
  } catch (err) {
    failure = failureOf(err);
    if (!failure) throw err;
  } finally {
    await store.close();
  }
  if (failure) fail(failure.message, failure.code);
}
