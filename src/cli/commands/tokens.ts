import type { Command } from 'commander';
import { CliFailure, printJson, withStoreOptions, type Common } from '../store-command.js';
import { plural, printable } from '../format.js';
import { grantView, listedUntil, withOAuthStore, type GrantView } from './clients.js';

/**
 * `warden tokens`: revokes OAuth grants and the tokens issued under them. Refresh tokens, codes and grants are
 * deleted from the store; access tokens (self-contained JWTs) are listed as revoked until they expire, so the
 * gateway refuses them from its next request on.
 */

type Target = { kind: 'user' | 'client' | 'grant'; value: string };

export function registerTokens(program: Command): void {
  const tokens = program.command('tokens').description('revoke OAuth tokens');

  withStoreOptions(tokens
    .command('revoke')
    .description('revoke every grant and token of a user or a client, or one grant; name exactly one')
    .option('--user <username>', 'every grant of this user (and their sign-in sessions)')
    .option('--client <client_id>', 'every grant of this client, and its client_credentials tokens (the registration stays: `warden clients revoke` removes it)')
    .option('--grant <grant_id>', 'one grant, as `warden clients show` lists it'))
    .action(async (opts: Common & { user?: string; client?: string; grant?: string }) => {
      const named: Target[] = [];
      if (opts.user !== undefined) named.push({ kind: 'user', value: opts.user });
      if (opts.client !== undefined) named.push({ kind: 'client', value: opts.client });
      if (opts.grant !== undefined) named.push({ kind: 'grant', value: opts.grant });
      await withOAuthStore(opts, {
        check: () => {
          if (named.length !== 1) throw new CliFailure(`name exactly one of --user, --client or --grant${named.length > 1 ? ` (got ${named.map((t) => `--${t.kind}`).join(', ')})` : ''}`, 2);
          if (named[0]!.value === '') throw new CliFailure(`--${named[0]!.kind} needs a value`, 2);
        },
        run: async ({ store, record, revocation }) => {
          const { revokeClientTokens, revokeGrant, revokeUser } = await import('../../authorization-server/revoke.js');
          const target = named[0]!;
          const now = Date.now();
          const ctx = revocation(now);
          let grants: string[];
          let grant: GrantView | undefined;
          let found = true;
          if (target.kind === 'grant') {
            const before = await store.oauth.find('Grant', target.value, now);
            grant = before && grantView(before);
            // Listed even when unknown (fail closed): access tokens of an already-deleted grant are refused too.
            found = await revokeGrant(ctx, target.value);
            grants = found ? [target.value] : [];
          } else if (target.kind === 'user') {
            grants = await revokeUser(ctx, target.value);
          } else {
            grants = await revokeClientTokens(ctx, target.value);
          }
          const of = grant ? ` (user ${grant.user ?? '-'}, client ${grant.clientId ?? '-'})` : '';
          const reason = target.kind === 'grant'
            ? (found ? `grant revoked${of}` : 'no such grant; listed as revoked anyway')
            : `${plural(grants.length, 'grant')} revoked${grants.length ? ` (${grants.join(', ')})` : ''}`;
          await record('tokens.revoke', target.value, `${target.kind} ${target.value}: ${reason}`, target.kind);
          const until = listedUntil(ctx, now);
          if (opts.json) {
            printJson({
              kind: target.kind, value: target.value, grants, listedUntil: until,
              ...(target.kind === 'grant' ? { found, user: grant?.user ?? null, clientId: grant?.clientId ?? null } : {}),
            });
          } else {
            const who = `${target.kind} ${printable(target.value)}`;
            if (target.kind === 'grant') {
              process.stdout.write(found ? `revoked grant ${printable(target.value)}${printable(of)}\n` : `no grant ${printable(target.value)} was found\n`);
            } else if (grants.length === 0) {
              process.stdout.write(`no grants were found for ${who}\n`);
            } else {
              process.stdout.write(`revoked ${plural(grants.length, 'grant')} of ${who}: ${printable(grants.join(', '))}\n`);
            }
            process.stdout.write(`access tokens of ${who} issued until now are refused (listed as revoked until ${until})\n`);
          }
          if (!found) throw new CliFailure(`no such grant: ${printable(target.value)}; \`warden clients show <client_id>\` lists grants`, 1);
        },
      });
    });
}
