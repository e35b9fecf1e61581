import type { Command } from 'commander';

export function registerWrap(program: Command): void {
  program.command('wrap').description('(being built)').action(() => {
    process.stderr.write('warden: wrap is not built yet\n');
    process.exit(1);
  });
}
