/**
 * oidc-provider prints "Unsupported runtime. Use Node.js v22.x LTS" when it is loaded on Node 20, at every
 * start. warden is tested on Node 20 (DESIGN.md: the machines run 20), so for the CLI the line is noise that
 * teaches people to skip warnings. Only that exact line is dropped; everything else reaches stderr.
 * Imported first by `main.ts`, before any command loads the authorization server.
 */
const UNSUPPORTED_RUNTIME = /^(\x1b\[[0-9;]*m)?oidc-provider WARNING: Unsupported runtime\./;

if (Number(process.versions.node.split('.')[0]) === 20) {
  const warn = console.warn.bind(console);
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && UNSUPPORTED_RUNTIME.test(args[0])) return;
    warn(...args);
  };
}

/** The native SQLite module is missing or was built for another Node: say how to fix it, not a stack trace. */
export function nativeModuleProblem(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException | undefined;
  const text = String(e?.message ?? '');
  if (!/better[-_]sqlite3|bindings file|NODE_MODULE_VERSION/.test(text) && e?.code !== 'ERR_DLOPEN_FAILED') return undefined;
  return `the SQLite module (better-sqlite3) cannot be loaded: ${text.split('\n')[0]}
  It is a native module: npm downloads a prebuilt binary for your platform from GitHub, or compiles it.
  Fix: reinstall with its install script allowed and shown (npm install -g mcp-warden --allow-scripts=better-sqlite3 --foreground-scripts);
  where GitHub cannot be reached, set npm_config_better_sqlite3_binary_host_mirror to a mirror of its releases,
  or install a compiler (python3, make, g++) and run npm rebuild better-sqlite3.`;
}
