import { InvalidArgumentError, Option, type Command } from 'commander';
// Tiny and pure: imported eagerly so that option parsers can reject a bad duration synchronously (exit 2).
import { parseDuration } from '../../shared/duration.js';
import { durationProblem } from '../../admin/key-lifetime.js';
import type { ApiKeyView } from '../../credentials/index.js';
import { printJson, withStore, withStoreOptions, collect, CliFailure, type Common } from '../store-command.js';
import { iso, rows, table, when } from '../format.js';

/**
 * `warden keys`: API keys in the store the config names. Safe while `warden serve` runs on the same store
 * (SQLite in WAL mode): a revocation takes effect at the gateway's next request.
 */

function duration(what: string, allowZero: boolean) {
  return (value: string): number => {
    let ms: number;
    try {
      ms = parseDuration(value);
    } catch {
      throw new InvalidArgumentError('expected a duration such as 30m, 12h or 30d');
    }
    const problem = durationProblem(what, ms, allowZero);
    if (problem !== undefined) throw new InvalidArgumentError(problem);
    return ms;
  };
}

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('create, list, rotate and revoke API keys');

  withStoreOptions(keys
    .command('create')
    .description('create an API key; it is printed once and never again')
    .requiredOption('--subject <subject>', 'who uses the key (a user or service name)')
    .option('--tenant <tenant>', 'the tenant the subject belongs to')
    .option('--name <name>', 'a label, e.g. where the key is used')
    .option('--scope <scope>', 'a scope from authorization.scopes (repeatable)', collect)
    .option('--role <role>', 'a role from authorization.roles (repeatable)', collect)
    .option('--expires <duration>', 'lifetime, e.g. 90d (default: never expires)', duration('--expires', false)))
    .action(async (opts: Common & { subject: string; tenant?: string; name?: string; scope?: string[]; role?: string[]; expires?: number }) => {
      const input = { subject: opts.subject, tenant: opts.tenant, name: opts.name, scopes: opts.scope ?? [], roles: opts.role ?? [], expiresInMs: opts.expires };
      await withStore(opts, {
        warning: (config, file) => (config.auth === 'none' || !config.auth.apiKeys
          ? `${file} does not turn on API keys, so the gateway ignores them; set auth: { apiKeys: {} } to accept them`
          : undefined),
        check: async (config) => (await import('../../admin/index.js')).checkNewKey(config, input),
        run: async ({ admin }) => {
          const { key, view } = await admin.keys.create(input);
          // Said, not refused: a key for a machine may be meant to live on; `warden doctor` keeps flagging it.
          if (opts.expires === undefined) process.stderr.write(`warden: warning: key ${view.id} never expires; next time pass --expires 90d (warden doctor lists the keys without one)\n`);
          if (opts.json) return printJson(created(key, view));
          process.stdout.write(`${key}\n\n${SHOWN_ONCE}\n\n${details(view)}`);
        },
      });
    });

  withStoreOptions(keys
    .command('list')
    .description('list API keys (never the keys themselves)')
    .option('--subject <subject>', 'only keys of this subject')
    .option('--tenant <tenant>', 'only keys of this tenant')
    .option('--all', 'include revoked, expired and rotated keys'))
    .action(async (opts: Common & { subject?: string; tenant?: string; all?: boolean }) => {
      await withStore(opts, {
        run: async ({ admin }) => {
          const views = await admin.keys.list({ subject: opts.subject, tenant: opts.tenant, includeInactive: opts.all === true });
          if (opts.json) return printJson(views.map(viewJson));
          if (views.length === 0) {
            process.stdout.write(`no API keys${opts.all ? '' : ' in use (--all includes revoked, expired and rotated keys)'}\n`);
            return;
          }
          process.stdout.write(keyTable(views));
        },
      });
    });

  withStoreOptions(keys
    .command('show')
    .description('show one API key (never the key itself)')
    .argument('<id>', 'key id, as `warden keys list` shows it'))
    .action(async (idArg: string, opts: Common) => {
      await withStore(opts, {
        run: async ({ admin }) => {
          const view = await admin.keys.get(idArg);
          if (opts.json) return printJson(viewJson(view));
          process.stdout.write(details(view));
        },
      });
    });

  withStoreOptions(keys
    .command('rotate')
    .description('replace an API key with a new one of the same grants; the old one works until the grace period ends')
    .argument('<id>', 'key id, as `warden keys list` shows it')
    .addOption(new Option('--grace <duration>', 'how long the old key keeps working (0s: not at all)').argParser(duration('--grace', true)).default(3_600_000, '1h'))
    .option('--expires <duration>', 'lifetime of the new key, e.g. 90d (default: the old key\'s expiry)', duration('--expires', false)))
    .action(async (idArg: string, opts: Common & { grace: number; expires?: number }) => {
      await withStore(opts, {
        run: async ({ admin }) => {
          const { key, view, previous } = await admin.keys.rotate(idArg, opts.grace, opts.expires);
          const prev = { id: previous.id, status: previous.status, expiresAt: iso(previous.expiresAt) };
          if (opts.json) return printJson({ ...created(key, view), previous: prev });
          const until = previous.status === 'grace' ? `keeps working until ${prev.expiresAt}` : 'no longer works';
          process.stdout.write(`${key}\n\n${SHOWN_ONCE}\nThe previous key ${previous.id} ${until}.\n\n${details(view)}`);
        },
      });
    });

  withStoreOptions(keys
    .command('revoke')
    .description('revoke an API key; the gateway refuses it from its next request on')
    .argument('<id>', 'key id, as `warden keys list` shows it'))
    .action(async (idArg: string, opts: Common) => {
      await withStore(opts, {
        run: async ({ admin }) => {
          const before = await admin.keys.get(idArg);
          // Nothing to do is not success: a script that revokes a leaked key must notice it named the wrong one.
          if (before.revokedAt !== null) throw new CliFailure(`key ${before.id} was already revoked at ${iso(before.revokedAt)}; nothing changed`, 1);
          const view = await admin.keys.revoke(idArg);
          if (opts.json) return printJson(viewJson(view));
          process.stdout.write(details(view));
        },
      });
    });

  withStoreOptions(keys
    .command('rotate-signing')
    .description('new signing keys for access tokens and upstream identity JWTs; the old ones stay published until the tokens they signed expire')
    .addOption(new Option('--use <use>', 'which keys').choices(['access-tokens', 'identity', 'all']).default('all')))
    .action(async (opts: Common & { use: 'access-tokens' | 'identity' | 'all' }) => {
      await withStore(opts, {
        run: async ({ admin }) => {
          const rotated = await admin.keys.rotateSigning(opts.use);
          if (opts.json) return printJson(rotated);
          for (const r of rotated) {
            process.stdout.write(`${r.label}: new key ${r.kid} signs from now on${r.retired.length ? `; ${r.retired.join(', ')} stay published until ${r.retiredPublishedUntil} so the tokens they signed still verify` : ''}\n`);
          }
          process.stdout.write('A running gateway picks the new keys up within a minute.\n');
        },
      });
    });
}

const SHOWN_ONCE = 'This is the only time the key is shown: store it now (e.g. in a secret manager).\nwarden keeps only a hash of it; a lost key cannot be recovered, only rotated or revoked.';

function created(key: string, view: ApiKeyView) {
  return {
    id: view.id, key, subject: view.subject, tenant: view.tenant, name: view.name, scopes: view.scopes, roles: view.roles,
    createdAt: iso(view.createdAt), expiresAt: iso(view.expiresAt),
  };
}

function viewJson(view: ApiKeyView) {
  return {
    id: view.id, name: view.name, subject: view.subject, tenant: view.tenant, scopes: view.scopes, roles: view.roles, status: view.status,
    createdAt: iso(view.createdAt), expiresAt: iso(view.expiresAt), lastUsedAt: iso(view.lastUsedAt), revokedAt: iso(view.revokedAt),
    replacedBy: view.replacedBy,
  };
}

function details(view: ApiKeyView): string {
  const pairs: [string, string][] = [
    ['id', view.id],
    ['name', view.name ?? '-'],
    ['subject', view.subject],
    ['tenant', view.tenant ?? '-'],
    ['scopes', view.scopes.join(', ') || '-'],
    ['roles', view.roles.join(', ') || '-'],
    ['status', view.status],
    ['created', when(view.createdAt, '-')],
    ['expires', when(view.expiresAt, 'never')],
    ['last used', when(view.lastUsedAt, 'never')],
  ];
  if (view.revokedAt !== null) pairs.push(['revoked', when(view.revokedAt, '-')]);
  if (view.replacedBy !== null) pairs.push(['replaced by', view.replacedBy]);
  return rows(pairs, 13);
}

function keyTable(views: ApiKeyView[]): string {
  return table(
    ['ID', 'NAME', 'SUBJECT', 'TENANT', 'SCOPES', 'ROLES', 'STATUS', 'EXPIRES', 'LAST USED'],
    views.map((v) => [
      v.id, v.name ?? '-', v.subject, v.tenant ?? '-', v.scopes.join(',') || '-', v.roles.join(',') || '-', v.status,
      when(v.expiresAt, 'never'), when(v.lastUsedAt, 'never'),
    ]),
  );
}
