import type { Command } from 'commander';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('review a config (and with --url, a running gateway) like an auth reviewer; exit 1 when anything is found')
    .option('-c, --config <path>', 'config file (default: $WARDEN_CONFIG or ./warden.yaml; with --url, reviewed only when this or $WARDEN_CONFIG names one)')
    .option('--url <url>', 'also probe a running gateway from outside, e.g. https://mcp.example.com')
    .option('--json', 'machine-readable output')
    .action(async (opts: { config?: string; url?: string; json?: boolean }) => {
      const { loadConfigFile, resolveConfigPath, ConfigError } = await import('../../config/index.js');
      const { reviewConfig, configErrorFindings, gatherFacts, probeGateway } = await import('../../doctor/index.js');
      const { checksText, findingsText } = await import('../doctor-format.js');
      const { fail } = await import('../output.js');
      const out: Record<string, unknown> = {};
      const findings = [];
      let text = '';
      if (!opts.url || opts.config || process.env.WARDEN_CONFIG) {
        const file = resolveConfigPath(opts.config);
        out.file = file;
        try {
          const loaded = loadConfigFile(file);
          const review = reviewConfig(await gatherFacts(loaded, Date.now(), { probeIdps: true }));
          Object.assign(out, { scenario: loaded.config.scenario, checks: review.checks });
          findings.push(...review.findings);
          text += `${file} (${loaded.config.scenario} scenario)\n${checksText(review.checks)}`;
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          findings.push(...configErrorFindings(err));
          text += `${file}: the configuration does not load\n`;
        }
      }
      if (opts.url) {
        // Only a URL that cannot be parsed ends here; a gateway that does not answer is a finding.
        const probe = await probeGateway(opts.url).catch((err: Error) => fail(`--url: ${err.message}`, 2));
        Object.assign(out, { url: probe.url, observations: probe.observations });
        findings.push(...probe.findings);
        text += `${text ? '\n' : ''}${probe.url} from outside\n${probe.observations.map((o) => `  ${o}\n`).join('')}`;
      }
      if (opts.json) process.stdout.write(`${JSON.stringify({ ok: findings.length === 0, ...out, findings }, null, 2)}\n`);
      else process.stdout.write(`${text}\n${findingsText(findings)}`);
      process.exitCode = findings.length === 0 ? 0 : 1;
    });
}
