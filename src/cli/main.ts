#!/usr/bin/env node
import { nativeModuleProblem } from './runtime-notices.js';
import { Command, CommanderError } from 'commander';
import { registerServe } from './commands/serve.js';
import { registerDemo } from './commands/demo.js';
import { registerConfig } from './commands/config.js';
import { registerWrap } from './commands/wrap.js';
import { registerKeys } from './commands/keys.js';
import { registerUsers } from './commands/users.js';
import { registerClients } from './commands/clients.js';
import { registerTokens } from './commands/tokens.js';
import { registerAudit } from './commands/audit.js';
import { registerPolicy } from './commands/policy.js';
import { registerDoctor } from './commands/doctor.js';
import { registerMigrate } from './commands/migrate.js';
import { registerStore } from './commands/store.js';
import { registerInit } from './commands/init.js';
import { VERSION } from './version.js';

/** `warden`: thin argument parsing; every command calls into the modules. Exit codes: 0 ok, 1 failure, 2 bad usage or config. */
const program = new Command('warden')
  .description('Authentication, authorization and audit for MCP servers')
  .version(VERSION)
  .showHelpAfterError('(run `warden --help` or `warden <command> --help` for usage)')
  .enablePositionalOptions()
  .exitOverride();

registerInit(program);
registerServe(program);
registerDemo(program);
registerWrap(program);
registerConfig(program);
registerKeys(program);
registerUsers(program);
registerClients(program);
registerTokens(program);
registerAudit(program);
registerPolicy(program);
registerDoctor(program);
registerMigrate(program);
registerStore(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  const native = nativeModuleProblem(err);
  if (native) {
    process.stderr.write(`warden: ${native}\n`);
    process.exit(1);
  }
  throw err;
}
