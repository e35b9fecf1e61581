import { Option, type Command } from 'commander';
import type { LevelWithSilent } from 'pino';

/** `--log-level` and `--log-format` for the commands that run a gateway (`serve`, `demo`). */
export interface LogOptions {
  logLevel?: LevelWithSilent;
  logFormat?: 'auto' | 'json' | 'pretty';
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function withLogOptions(command: Command): Command {
  return command
    .addOption(new Option('--log-level <level>', 'override log.level').choices(LOG_LEVELS))
    .addOption(new Option('--log-format <format>', 'json for log shippers, pretty for people; auto: pretty when stderr is a terminal').choices(['auto', 'json', 'pretty']).default('auto'));
}

/** Pretty when asked, or on a terminal unless JSON was asked: a log shipper reads a pipe, a person a TTY. */
export function prettyLogs(format: LogOptions['logFormat'] = 'auto'): boolean {
  return format === 'pretty' || (format === 'auto' && process.stderr.isTTY === true);
}
