import { InvalidArgumentError, type Command } from 'commander';
import { withLogOptions, type LogOptions } from '../log-options.js';

export function registerServe(program: Command): void {
  withLogOptions(program
    .command('serve')
    .description('run the gateway with a config file')
    .option('-c, --config <path>', 'config file (default: $WARDEN_CONFIG or ./warden.yaml)')
    .option('-p, --port <port>', 'override listen.port', (v) => { const n = Number(v); if (!/^\d+$/.test(v) || n > 65535) throw new InvalidArgumentError('expected a port number 0-65535'); return n; }))
    .action(async (opts: { config?: string; port?: number } & LogOptions) => {
      const { loadConfigOrExit } = await import('../output.js');
      const { runGateway } = await import('../run-gateway.js');
      const { warnGravest } = await import('../serve-warnings.js');
      const loaded = loadConfigOrExit(opts.config);
      if (opts.port !== undefined) loaded.config.listen.port = opts.port;
      // Said before starting, so it is seen even when start-up then fails; starting is not refused.
      await warnGravest(loaded);
      const { gateway } = await runGateway(loaded.config, loaded.secrets, opts);
      const { mcpPath } = await import('../../gateway/routes.js');
      process.stderr.write(`warden: serving ${Object.keys(loaded.config.upstreams).map((n) => `${gateway.url}${mcpPath(n)}`).join(', ')}\n`);
    });
}
