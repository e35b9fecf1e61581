import { Option, type Command } from 'commander';

interface InitOptions {
  scenario?: 'local' | 'public' | 'enterprise';
  upstream?: string[];
  idp?: string;
  idpIssuer?: string;
  publicUrl?: string;
  output: string;
  yes?: boolean;
  force?: boolean;
}

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('ask four questions (who, what is at stake, where, which IdP) and the servers to protect, then write a commented warden.yaml')
    .addOption(new Option('--scenario <scenario>', 'skip the questions: the typical answers of this scenario').choices(['local', 'public', 'enterprise']))
    .option('--upstream <server>', 'an MCP server: a URL, a command line, or "demo" (the bundled notes server); name=... names it (repeatable)', (v: string, p: string[] = []) => [...p, v])
    .addOption(new Option('--idp <idp>', 'the identity provider there is').choices(['none', 'okta', 'entra', 'keycloak', 'google', 'other']))
    .option('--idp-issuer <url>', "the IdP's issuer URL, exactly as its tokens carry it in iss (with --idp)")
    .option('--public-url <url>', 'the https address clients will use (public and enterprise)')
    .option('-o, --output <file>', 'where to write', 'warden.yaml')
    .option('-y, --yes', 'ask nothing: the answers of --scenario (default local) and the flags')
    .option('--force', 'overwrite the output file if it exists (without --yes, you are asked instead)')
    .action(async (opts: InitOptions) => {
      const { runInit } = await import('../init-dialog.js');
      process.exitCode = await runInit(opts);
    });
}

export type { InitOptions };
