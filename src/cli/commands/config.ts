import type { Command } from 'commander';

export function registerConfig(program: Command): void {
  const config = program.command('config').description('inspect and validate configuration');

  config
    .command('schema')
    .description('print the JSON Schema of warden.yaml (for editors and CI)')
    .action(async () => {
      const { configJsonSchema } = await import('../../config/index.js');
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });

  config
    .command('check')
    .description('validate a config file; exits 2 and names each wrong field when it is invalid')
    .option('-c, --config <path>', 'config file (default: $WARDEN_CONFIG or ./warden.yaml)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { config?: string; json?: boolean }) => {
      const { loadConfigFile, resolveConfigPath } = await import('../../config/index.js');
      const { exitOnConfigError } = await import('../output.js');
      const { mcpPath } = await import('../../gateway/routes.js');
      const file = resolveConfigPath(opts.config);
      try {
        const { SCENARIO_RULES } = await import('../../config/presets.js');
        const { config: parsed, scenarioDefaults } = loadConfigFile(file);
        const upstreams = Object.entries(parsed.upstreams).map(([name, u]) => ({ name, kind: u.url ? 'http' : 'stdio', path: mcpPath(name) }));
        const scenarioRules = SCENARIO_RULES[parsed.scenario];
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ ok: true, file, scenario: parsed.scenario, scenarioDefaults, scenarioRules, listen: parsed.listen, upstreams }, null, 2)}\n`);
        } else {
          process.stdout.write(`${file}: valid (${parsed.scenario} scenario, ${upstreams.length} upstream${upstreams.length === 1 ? '' : 's'}: ${upstreams.map((u) => u.name).join(', ')})\n`);
          // What the scenario did that the file does not say: its defaults, then the rules it holds the file to.
          if (scenarioDefaults.length > 0) process.stdout.write(`scenario '${parsed.scenario}' set (the file can override each):\n${scenarioDefaults.map((l) => `  ${l}\n`).join('')}`);
          process.stdout.write(`scenario '${parsed.scenario}' requires:\n${scenarioRules.map((r) => `  - ${r}\n`).join('')}`);
        }
      } catch (err) {
        exitOnConfigError(err, opts.json);
      }
    });
}
