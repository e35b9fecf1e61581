import type { Command } from 'commander';

/** `warden migrate`: brings the PostgreSQL schema to this warden's version (SQLite migrates on open). */
export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply pending schema migrations to the store the config names (PostgreSQL; a SQLite store migrates when opened)')
    .option('-c, --config <path>', 'config file (default: $WARDEN_CONFIG or ./warden.yaml)')
    .option('--dry-run', 'list the migrations that would run, and run none')
    .option('--json', 'machine-readable output')
    .action(async (opts: { config?: string; json?: boolean; dryRun?: boolean }) => {
      const { loadConfigOrExit, fail } = await import('../output.js');
      const { StoreError } = await import('../../store/index.js');
      const { migrateStore } = await import('../../store/migrate.js');
      const { config } = loadConfigOrExit(opts.config, opts.json);
      let result;
      try {
        result = await migrateStore(config.store, { dryRun: opts.dryRun === true });
      } catch (err) {
        // Its message names the host and port, or the version to upgrade to; never the password.
        if (err instanceof StoreError) return fail(err.message, 1);
        throw err;
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        return;
      }
      if (result.note) {
        process.stdout.write(`${result.location}: ${result.note}\n`);
        return;
      }
      const list = result.migrations.map((m) => `  ${m.version}: ${m.name}\n`).join('');
      if (result.migrations.length === 0) {
        process.stdout.write(`${result.location} is at schema version ${result.from}, the newest this warden knows: nothing to do\n`);
      } else if (result.dryRun) {
        process.stdout.write(`${result.location} is at schema version ${result.from}; \`warden migrate\` would run:\n${list}`);
      } else {
        process.stdout.write(`${result.location}: migrated from schema version ${result.from} to ${result.migrations.at(-1)!.version}:\n${list}`);
      }
    });
}
