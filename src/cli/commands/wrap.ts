import type { Command } from 'commander';
import type { WrapOptions } from '../../wrap/index.js';
import { fail } from '../output.js';

interface WrapFlags {
  allowTool?: string[];
  allowResource?: string[];
  allowPrompt?: string[];
  env?: string[];
  setEnv?: string[];
  auditFile?: string;
  store?: string;
  config?: string;
  name?: string;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

export function registerWrap(program: Command): void {
  program
    .command('wrap')
    .summary('run a stdio MCP server behind an allow-list, env filter and audit (local scenario)')
    .description([
      'Run a third-party stdio MCP server as a child and stand between it and the MCP client on stdio. ' +
        'Configure your MCP client to launch `warden wrap [options] -- <command> [args...]` instead of the server.',
      'Requests for tools, resources or prompts not on the allow-list are refused by warden (JSON-RPC error -32003) ' +
        'and never reach the server; tools/list, resources/list, resources/templates/list and prompts/list answers ' +
        'are filtered. A kind is restricted only when at least one pattern for it is given. Patterns may use * (any ' +
        'run of characters) and ? (one character).',
      'The server sees ONLY the environment variables named with --env (not even PATH unless named) and those given ' +
        "with --set-env. stdout carries only JSON-RPC; the server's stderr and warden's own messages go to stderr.",
      "Exit code: the server's own (1 if it was ended by a signal or could not start), 2 for bad usage.",
    ].join('\n\n'))
    .usage('[options] -- <command> [args...]')
    .passThroughOptions()
    .argument('[command...]', 'the MCP server to run, after "--"')
    .option('--allow-tool <name>', 'allow a tool (repeatable; * and ? globs)', collect)
    .option('--allow-resource <uri>', 'allow a resource URI or URI template (repeatable; * and ? globs)', collect)
    .option('--allow-prompt <name>', 'allow a prompt (repeatable; * and ? globs)', collect)
    .option('--env <name>', 'pass this variable of warden\'s environment to the server (repeatable); no other is passed', collect)
    .option('--set-env <name=value>', 'set a variable for the server (repeatable)', collect)
    .option('--audit-file <path>', 'append one JSON line per request to this file (created mode 0600)')
    .option('--store <file>', "append each request's record to the audit hash chain in this SQLite store (e.g. the gateway's)")
    .option('-c, --config <path>', "append to the audit chain of the store this config names (when its audit.store is on), and apply its Cedar policies (authorization.cedar)")
    .option('--name <name>', 'upstream name in audit records (default: the basename of the command)')
    .addHelpText('after', `
Examples:
  warden wrap --allow-tool echo --allow-tool 'get-*' --audit-file ~/.warden/audit.jsonl \\
    -- /usr/bin/node ./node_modules/@modelcontextprotocol/server-everything/dist/index.js stdio
  warden wrap --env PATH --env HOME --set-env LOG_LEVEL=warn -- npx -y some-mcp-server

  In an MCP client config (e.g. Claude Desktop):
  { "command": "warden", "args": ["wrap", "--allow-tool", "search_*", "--env", "PATH", "--", "npx", "-y", "some-mcp-server"] }
`)
    .action(async (command: string[], flags: WrapFlags) => {
      const setEnv: Record<string, string> = {};
      for (const pair of flags.setEnv ?? []) {
        const at = pair.indexOf('=');
        if (at <= 0) fail(`--set-env takes NAME=VALUE, got "${pair}"`, 2);
        setEnv[pair.slice(0, at)] = pair.slice(at + 1);
      }
      const options: WrapOptions = {
        command,
        allow: {
          ...(flags.allowTool ? { tools: flags.allowTool } : {}),
          ...(flags.allowResource ? { resources: flags.allowResource } : {}),
          ...(flags.allowPrompt ? { prompts: flags.allowPrompt } : {}),
        },
        env: flags.env ?? [],
        setEnv,
        ...(flags.auditFile ? { auditFile: flags.auditFile } : {}),
        ...(flags.name ? { name: flags.name } : {}),
      };
      // Loaded here, not at the top: an MCP client starts `warden wrap` often, and --help needs none of it.
      const { runWrap, wrapUsageProblem } = await import('../../wrap/index.js');
      const problem = wrapUsageProblem(options);
      if (problem) fail(problem, 2);
      const store = await openAuditStore(flags);
      if (store) options.store = store;
      const policies = await openPolicies(flags);
      if (policies) options.policies = policies;

      const controller = new AbortController();
      let signalled: string | undefined;
      const onSignal = (signal: NodeJS.Signals) => {
        if (signalled) process.exit(SIGNAL_EXIT[signal] ?? 1); // a second signal: leave at once
        signalled = signal;
        controller.abort();
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);

      const code = await runWrap(options, {
        stdin: process.stdin,
        stdout: process.stdout,
        stderr: process.stderr,
        signal: controller.signal,
      });
      await store?.close();
      policies?.close();
      // Let the last answers reach the client before leaving.
      if (process.stdout.writable) await new Promise<void>((done) => process.stdout.write('', () => done()));
      process.exit(signalled ? (SIGNAL_EXIT[signalled] ?? 1) : code);
    });
}

/** The Cedar policies (or remote PDP) of `--config`'s `authorization`, when it names any: the same decisions as the gateway's. */
async function openPolicies(flags: WrapFlags): Promise<import('../../policy/cedar/policies.js').Policies | undefined> {
  if (flags.config === undefined) return undefined;
  const { loadConfigOrExit } = await import('../output.js');
  const { config } = loadConfigOrExit(flags.config);
  if (!config.authorization.cedar && !config.authorization.authzen) return undefined;
  const { Policies, PolicyError } = await import('../../policy/cedar/index.js');
  const { createLogger } = await import('../../shared/log.js');
  try {
    return Policies.open(config.authorization, createLogger({ level: 'warn', destination: process.stderr }));
  } catch (err) {
    if (err instanceof PolicyError) fail(`authorization.cedar: the policy set does not load (\`warden policy check\` says more):\n  ${err.problems.join('\n  ')}`, 2);
    throw err;
  }
}

/** The store whose audit chain the wrap appends to: `--store`, or the one `--config` names; none without either. */
async function openAuditStore(flags: WrapFlags): Promise<import('../../store/index.js').Store | undefined> {
  if (flags.store !== undefined && flags.config !== undefined) fail('give --store or --config, not both', 2);
  const { resolve } = await import('node:path');
  let storeConfig: import('../../config/index.js').StoreConfig | undefined = flags.store !== undefined ? { sqlite: resolve(flags.store), synchronous: 'normal' } : undefined;
  if (flags.config !== undefined) {
    const { loadConfigOrExit } = await import('../output.js');
    const { config, file } = loadConfigOrExit(flags.config);
    if (!config.audit.store) fail(`${file} has audit.store: false, so there is no audit chain to append to; use --audit-file`, 2);
    storeConfig = config.store;
  }
  if (storeConfig === undefined) return undefined;
  const { openStore, StoreError } = await import('../../store/index.js');
  try {
    return await openStore({ store: storeConfig }, { announce: false });
  } catch (err) {
    // The store's own message names the file, or the PostgreSQL host and port (never its password).
    if (err instanceof StoreError) fail(`cannot open the store: ${err.message}`);
    throw err;
  }
}
