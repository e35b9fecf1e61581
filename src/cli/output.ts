import { ConfigError, loadConfigFile, resolveConfigPath, type LoadedConfig } from '../config/index.js';

/** The config a command was pointed at (`--config`, $WARDEN_CONFIG, ./warden.yaml), or exit 2 saying what is wrong. */
export function loadConfigOrExit(explicit: string | undefined, json = false): LoadedConfig {
  try {
    return loadConfigFile(resolveConfigPath(explicit));
  } catch (err) {
    return exitOnConfigError(err, json);
  }
}

/** Prints a config error the way every command does: one line per problem, then exit 2. */
export function exitOnConfigError(err: unknown, json = false): never {
  if (err instanceof ConfigError) {
    if (json) process.stdout.write(`${JSON.stringify({ ok: false, file: err.file, issues: err.issues }, null, 2)}\n`);
    else process.stderr.write(`warden: configuration error\n${err.format()}\n`);
    process.exit(2);
  }
  throw err;
}

export function fail(message: string, code = 1): never {
  process.stderr.write(`warden: ${message}\n`);
  process.exit(code);
}
