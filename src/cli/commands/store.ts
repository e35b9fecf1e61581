import type { Command } from 'commander';
import type { CopyResult } from '../../store/copy.js';
import { CONFIG_HELP, printJson } from '../store-command.js';

interface CopyOpts {
  from: string;
  config?: string;
  dryRun?: boolean;
  json?: boolean;
}

/** A progress line per this many rows of a large table (the audit trail), besides one when a table is done. */
const PROGRESS_EVERY = 10_000;

/** `warden store copy`: moves a SQLite store into the PostgreSQL store the config names. */
export function registerStore(program: Command): void {
  const store = program.command('store').description('move a store from one kind to another');
  store
    .command('copy')
    .description('copy everything in a SQLite store file (keys, users, OAuth clients and grants, signing keys, revocations, audit chains) into the empty PostgreSQL store the config names')
    .requiredOption('--from <file>', 'the SQLite store file to copy (store.sqlite of the gateway you move from; stop that gateway first)')
    .option('-c, --config <path>', `${CONFIG_HELP}; its store must be { postgres, redis }`)
    .option('--dry-run', 'check both stores and count what would be copied; copy nothing')
    .option('--json', 'machine-readable output')
    .action(async (opts: CopyOpts) => copy(opts));
}

async function copy(opts: CopyOpts): Promise<void> {
  const { resolve } = await import('node:path');
  const { hostname } = await import('node:os');
  const { loadConfigOrExit, fail } = await import('../output.js');
  const { isPostgres } = await import('../../config/index.js');
  const { StoreError } = await import('../../store/index.js');
  const { copyStore, describeCounts } = await import('../../store/copy.js');
  const { adminRecord, sealAuditRecord } = await import('../../audit/index.js');
  const { cliActor } = await import('../store-command.js');
  const { config, file } = loadConfigOrExit(opts.config, opts.json);
  if (!isPostgres(config.store)) {
    return fail(`${file}: store is SQLite (${config.store.sqlite}); \`warden store copy\` copies into PostgreSQL: give it a config whose store is { postgres: "\${DATABASE_URL}", redis: "\${REDIS_URL}" } (see docs/postgres.md)`, 2);
  }
  const from = resolve(opts.from);
  const actor = await cliActor();
  const instance = `cli@${hostname()}`;
  let result: CopyResult;
  try {
    result = await copyStore({
      from, to: config.store, dryRun: opts.dryRun === true,
      onProgress: (table, copied, total) => {
        if (copied === total || copied % PROGRESS_EVERY === 0) process.stderr.write(`warden: ${table.noun}s: ${copied} of ${total} copied\n`);
      },
      // Where admin changes go (admin/context.ts chainRecorder): the store's chain, unless audit.store is off.
      ...(config.audit.store ? {
        audit: {
          instance, seal: sealAuditRecord,
          record: (done: CopyResult) => adminRecord({
            action: 'store.copy', target: done.from, targetKind: 'store',
            reason: `copied from SQLite into ${done.to}: ${describeCounts(done.copied)}; audit chains ${done.auditChains.map((c) => c.instance || '(legacy)').join(', ') || 'none'}`,
          }, actor, instance),
        },
      } : {}),
    });
  } catch (err) {
    // Messages name files and the database without its password, and say how to fix what is wrong.
    if (err instanceof StoreError) return fail(err.message, 1);
    // Anything else (a row PostgreSQL refuses, a read error): the transaction rolled back, so say that, without a stack.
    return fail(`the copy stopped and was rolled back, the target holds none of it: ${(err as Error).message}`, 1);
  }
  if (opts.json) return printJson(result);
  process.stdout.write(report(result, describeCounts));
}

function report(result: CopyResult, describe: (counts: CopyResult['copied']) => string): string {
  const chains = result.auditChains.map((c) => `  ${c.instance || '(legacy chain)'}: ${c.records} records\n`).join('');
  const models = Object.entries(result.oauthModels).map(([model, n]) => `${model} ${n}`).join(', ');
  const verb = result.dryRun ? 'would copy' : 'copied';
  return `${verb} ${describe(result.copied)} from ${result.from} into ${result.to}\n`
    + (models ? `OAuth records: ${models}\n` : '')
    + (chains ? `audit chains (verify with \`warden audit verify\` on this config):\n${chains}` : '')
    + (result.dryRun ? 'dry run: nothing was copied\n' : '');
}
