import type { Command } from 'commander';
import { CliFailure, printJson, withStoreOptions, type Common } from '../store-command.js';
import { plural, printable } from '../format.js';
import type { TokenTarget } from '../../admin/index.js';
import { withOAuthStore } from './clients.js';

/**
 * `warden tokens`: revokes OAuth grants and the tokens issued under them. Refresh tokens, codes and grants are
 * deleted from the store; access tokens (self-contained JWTs) are listed as revoked until they expire, so the
 * gateway refuses them from its next request on.
 */

export function registerTokens(program: Command): void {
  const tokens = program.command('tokens').description('revoke OAuth tokens');

  withStoreOptions(tokens
    .command('revoke')
    .description('revoke every grant and token of a user or a client, or one grant; name exactly one')
    .option('--user <username>', 'every grant of this user (and their sign-in sessions)')
    .option('--client <client_id>', 'every grant of this client, and its client_credentials tokens (the registration stays: `warden clients revoke` removes it)')
    .option('--grant <grant_id>', 'one grant, as `warden clients show` lists it'))
    .action(async (opts: Common & { user?: string; client?: string; grant?: string }) => {
      const named: TokenTarget[] = [];
      if (opts.user !== undefined) named.push({ kind: 'user', value: opts.user });
      if (opts.client !== undefined) named.push({ kind: 'client', value: opts.client });
      if (opts.grant !== undefined) named.push({ kind: 'grant', value: opts.grant });
      await withOAuthStore(opts, {
        check: async () => {
          if (named.length !== 1) throw new CliFailure(`name exactly one of --user, --client or --grant${named.length > 1 ? ` (got ${named.map((t) => `--${t.kind}`).join(', ')})` : ''}`, 2);
          (await import('../../admin/index.js')).checkTokenTarget(named[0]!);
        },
        run: async ({ admin }) => {
          const out = await admin.tokens.revoke(named[0]!);
          const { kind, value, grants } = out;
          const of = out.found ? ` (user ${out.user ?? '-'}, client ${out.clientId ?? '-'})` : '';
          if (opts.json) {
            printJson(out);
          } else {
            const who = `${kind} ${printable(value)}`;
            if (kind === 'grant') {
              process.stdout.write(out.found ? `revoked grant ${printable(value)}${printable(of)}\n` : `no grant ${printable(value)} was found\n`);
            } else if (grants.length === 0) {
              process.stdout.write(`no grants were found for ${who}\n`);
            } else {
              process.stdout.write(`revoked ${plural(grants.length, 'grant')} of ${who}: ${printable(grants.join(', '))}\n`);
            }
            process.stdout.write(`access tokens of ${who} issued until now are refused (listed as revoked until ${out.listedUntil})\n`);
          }
          // Listed all the same (fail closed), but a mistyped id should not pass for a revocation.
          if (out.found === false) throw (await import('../../admin/index.js')).unknownGrant(value);
        },
      });
    });
}
