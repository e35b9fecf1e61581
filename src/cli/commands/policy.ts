import { InvalidArgumentError, type Command } from 'commander';
import type { WardenConfig } from '../../config/index.js';
import type { PolicySources } from '../../policy/cedar/index.js';

/**
 * `warden policy check|test|explain`: the Cedar set of `authorization.cedar` (or one named by flags) parsed and
 * validated for CI, run against a file of expected decisions, or asked again about a request in the audit log.
 * Exit codes: 0 fine, 1 a policy problem (invalid set, a failing case, a changed decision), 2 bad usage or config.
 */

interface SetOptions {
  config?: string;
  policies?: string;
  schema?: string;
  entities?: string;
  json?: boolean;
}

const CONFIG_HELP = 'config file (default: $WARDEN_CONFIG or ./warden.yaml)';

function withSetOptions(command: Command): Command {
  return command
    .option('-c, --config <path>', CONFIG_HELP)
    .option('--policies <path>', 'a .cedar file or folder (instead of the config\'s authorization.cedar.policies)')
    .option('--schema <file>', 'Cedar schema (default: the config\'s, else the MCP schema shipped with warden)')
    .option('--entities <file>', 'entities JSON')
    .option('--json', 'machine-readable output');
}

const seqArg = (value: string): number => {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected an audit record number (seq), as `warden audit query` shows it');
  return n;
};

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('check, test and explain Cedar policies (authorization.cedar)');

  withSetOptions(policy
    .command('check')
    .description('parse the policies and validate them against the schema; exits 1 when they do not (for CI)'))
    .action(async (opts: SetOptions) => {
      const { loadPolicySet, BUILTIN_SCHEMA } = await import('../../policy/cedar/index.js');
      const sources = await sourcesOrExit(opts);
      const set = loadOrExit(() => loadPolicySet(sources), opts.json);
      const policies = [...set.policies.values()].map(({ id, effect, source }) => ({ id, effect, source }));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ ok: true, schema: sources.schema ?? BUILTIN_SCHEMA, policies, entities: set.entities.length }, null, 2)}\n`);
        return;
      }
      const { table } = await import('../format.js');
      process.stdout.write(table(['ID', 'EFFECT', 'WHERE'], policies.map((p) => [p.id, p.effect, p.source])));
      process.stdout.write(`${policies.length} policies valid against ${sources.schema ?? BUILTIN_SCHEMA}${set.entities.length ? `, ${set.entities.length} entities` : ''}\n`);
    });

  withSetOptions(policy
    .command('test')
    .argument('<file>', 'YAML: cases of principal, action, resource, context and the expected decision (docs/policies.md)')
    .description('decide every case of the file with the policies; a table out, exit 1 when a decision differs from the expected one'))
    .action(async (file: string, opts: SetOptions) => {
      const { loadPolicySet, readPolicyTests, runPolicyTests, CedarEngine } = await import('../../policy/cedar/index.js');
      const tests = loadOrExit(() => readPolicyTests(file), opts.json, 2);
      // --policies (with --schema, --entities) replaces what it names; what the file names and the flags do not stays.
      const sources = opts.policies || !tests.sources ? { ...tests.sources, ...(await sourcesOrExit(opts)) } : tests.sources;
      const engine = new CedarEngine(loadOrExit(() => loadPolicySet(sources), opts.json), { cacheSize: 0 });
      const results = runPolicyTests(engine, tests.cases);
      const failed = results.filter((r) => !r.passed).length;
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ ok: failed === 0, passed: results.length - failed, failed, results }, null, 2)}\n`);
      } else {
        const { table, printable } = await import('../format.js');
        process.stdout.write(table(['RESULT', 'EXPECT', 'GOT', 'POLICIES', 'CASE'], results.map((r) => [
          r.passed ? 'ok' : 'FAIL', r.expected, r.got, r.determining.join(',') || '-', `${printable(r.name)}${r.problem ? ` (${r.problem})` : ''}`,
        ])));
        process.stdout.write(`${results.length - failed} passed, ${failed} failed\n`);
      }
      if (failed > 0) process.exitCode = 1;
    });

  policy
    .command('explain')
    .argument('<seq>', 'the audit record (its seq, from `warden audit query`)', seqArg)
    .description('replay a recorded decision against the current policies: what decides it now, and whether that changed')
    .option('-c, --config <path>', CONFIG_HELP)
    .option('--roles <roles>', 'the caller\'s roles, comma-separated (default: the API key\'s, from the store; none for tokens)')
    .option('--scopes <scopes>', 'the caller\'s scopes, comma-separated (default as for --roles)')
    .option('--instance <instance>', 'the chain the record is in, when several instances\' chains have that number')
    .option('--json', 'machine-readable output')
    .action(async (seq: number, opts: { config?: string; roles?: string; scopes?: string; instance?: string; json?: boolean }) => {
      const { withStore, CliFailure } = await import('../store-command.js');
      await withStore(opts, {
        run: async ({ config, store }) => {
          const { explainRecord } = await import('../policy-explain.js');
          const explained = await explainRecord(config, store, seq, {
            ...(opts.roles !== undefined ? { roles: list(opts.roles) } : {}),
            ...(opts.scopes !== undefined ? { scopes: list(opts.scopes) } : {}),
            ...(opts.instance !== undefined ? { instance: opts.instance } : {}),
          });
          if (typeof explained === 'string') throw new CliFailure(explained, 1);
          if (explained.changed) process.exitCode = 1;
          if (opts.json) {
            process.stdout.write(`${JSON.stringify(explained, null, 2)}\n`);
            return;
          }
          const { rows } = await import('../format.js');
          process.stdout.write(rows([
            ['record', `${seq} at ${explained.recorded.ts}`],
            ['request', explained.request],
            ['then', `${explained.recorded.decision} (${explained.recorded.reason})`],
            ['now', `${explained.now.decision}${explained.now.policies.length ? ` by ${explained.now.policies.join(', ')}` : ' (no policy permits it)'}`],
            ...(explained.now.errors.length ? [['errors', explained.now.errors.join(', ')] as [string, string]] : []),
            ['inputs', explained.notes.join('; ') || 'as recorded'],
          ], 10));
        },
      });
    });
}

function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

/** The set named by flags, else the config's `authorization.cedar`. */
async function sourcesOrExit(opts: SetOptions): Promise<PolicySources> {
  const { fail, loadConfigOrExit } = await import('../output.js');
  const { resolve } = await import('node:path');
  if (opts.policies) {
    return { policies: resolve(opts.policies), ...(opts.schema ? { schema: resolve(opts.schema) } : {}), ...(opts.entities ? { entities: resolve(opts.entities) } : {}) };
  }
  const { config, file } = loadConfigOrExit(opts.config, opts.json);
  const cedar: WardenConfig['authorization']['cedar'] = config.authorization.cedar;
  if (!cedar) return fail(`${file} has no authorization.cedar; name the policies with --policies PATH`, 2);
  const { policySources } = await import('../../policy/cedar/index.js');
  return { ...policySources(cedar), ...(opts.schema ? { schema: resolve(opts.schema) } : {}), ...(opts.entities ? { entities: resolve(opts.entities) } : {}) };
}

/** Runs a load; a PolicyError prints its problems (one a line) and exits with `code`. */
function loadOrExit<T>(load: () => T, json = false, code = 1): T {
  try {
    return load();
  } catch (err) {
    const problems = (err as { problems?: readonly string[] }).problems;
    if (!problems) throw err;
    if (json) process.stdout.write(`${JSON.stringify({ ok: false, problems }, null, 2)}\n`);
    else process.stderr.write(`warden: ${code === 2 ? 'the file does not load' : 'the policies do not load'}:\n  ${problems.join('\n  ')}\n`);
    process.exit(code);
  }
}
