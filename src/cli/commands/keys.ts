import { InvalidArgumentError, Option, type Command } from 'commander';
import type { ApiKeys, ApiKeyView } from '../../credentials/index.js';
// Tiny and pure: imported eagerly so that option parsers can reject a bad duration synchronously (exit 2).
import { parseDuration } from '../../shared/duration.js';
import { CliFailure, checkDefined, collect, printJson, withStore, withStoreOptions, type Common, type StoreCommand, type StoreEnv } from '../store-command.js';
import { iso, rows, printable, table, when } from '../format.js';

/**
 * `warden keys`: API keys in the store the config names. Safe while `warden serve` runs on the same store
 * (SQLite in WAL mode): a revocation takes effect at the gateway's next request.
 */

/** Longer would overflow what a Date can show; a key meant to last that long should not expire at all. */
const MAX_DURATION_MS = 36_500 * 86_400_000;

function duration(what: string, allowZero: boolean) {
  return (value: string): number => {
    let ms: number;
    try {
      ms = parseDuration(value);
    } catch {
      throw new InvalidArgumentError('expected a duration such as 30m, 12h or 30d');
    }
    if (!allowZero && ms === 0) throw new InvalidArgumentError(`${what} must be longer than 0`);
    if (ms > MAX_DURATION_MS) throw new InvalidArgumentError(`${what} must be at most 36500d`);
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
      const scopes = opts.scope ?? [];
      const roles = opts.role ?? [];
      await withKeys(opts, {
        invalidInputExit: 2,
        warning: (config, file) => (config.auth === 'none' || !config.auth.apiKeys
          ? `${file} does not turn on API keys, so the gateway ignores them; set auth: { apiKeys: {} } to accept them`
          : undefined),
        check: (config) => {
          checkDefined('scope', scopes, Object.keys(config.authorization.scopes), 'authorization.scopes');
          checkDefined('role', roles, Object.keys(config.authorization.roles), 'authorization.roles');
          if (scopes.length === 0 && roles.length === 0) {
            throw new CliFailure('a key needs at least one --scope or --role, or it could call nothing', 2);
          }
        },
        run: async ({ apiKeys, record }) => {
          const { key, view } = await apiKeys.create({
            subject: opts.subject, tenant: opts.tenant, name: opts.name, scopes, roles,
            expiresAt: opts.expires === undefined ? null : Date.now() + opts.expires,
          });
          try {
            await record('keys.create', view.id, `for ${owner(view)}: ${grants(view)}${view.expiresAt ? `, expires ${iso(view.expiresAt)}` : ''}`);
          } catch (err) {
            // An unrecorded credential must not exist: take it back before failing.
            await apiKeys.revoke(view.id);
            throw new CliFailure(`the key was not issued because its audit record could not be written: ${(err as Error).message}`, 1);
          }
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
      await withKeys(opts, {
        invalidInputExit: 1,
        run: async ({ apiKeys }) => {
          const views = await apiKeys.list({ subject: opts.subject, tenant: opts.tenant, includeInactive: opts.all === true });
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
      await withKeys(opts, {
        invalidInputExit: 1,
        run: async ({ apiKeys }) => {
          const id = await keyId(idArg);
          const view = await apiKeys.get(id);
          if (!view) throw new CliFailure(unknownIdMessage(id), 1);
          if (opts.json) return printJson(viewJson(view));
          process.stdout.write(details(view));
        },
      });
    });

  withStoreOptions(keys
    .command('rotate')
    .description('replace an API key with a new one of the same grants; the old one works until the grace period ends')
    .argument('<id>', 'key id, as `warden keys list` shows it')
    .addOption(new Option('--grace <duration>', 'how long the old key keeps working (0s: not at all)').argParser(duration('--grace', true)).default(3_600_000, '1h')))
    .action(async (idArg: string, opts: Common & { grace: number }) => {
      await withKeys(opts, {
        invalidInputExit: 1,
        run: async ({ apiKeys, record }) => {
          const { key, view, previous } = await apiKeys.rotate(await keyId(idArg), opts.grace);
          await record('keys.rotate', previous.id, `replaced by ${view.id} for ${owner(view)}; the old key works until ${iso(previous.expiresAt) ?? 'now'}`);
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
      await withKeys(opts, {
        invalidInputExit: 1,
        run: async ({ apiKeys, record }) => {
          const view = await apiKeys.revoke(await keyId(idArg));
          await record('keys.revoke', view.id, `key of ${owner(view)}`);
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
      await withKeys(opts, {
        invalidInputExit: 1,
        run: async ({ record, store, config }) => {
          const { rotateSigningKey, IDENTITY_KEY_USE, PUBLICATION_WINDOW_MS } = await import('../../credentials/index.js');
          const { ACCESS_TOKEN_KEY_USE } = await import('../../authorization-server/keys.js');
          const { accessTokenTtlOf } = await import('../../config/index.js');
          const accessTokenTtl = accessTokenTtlOf(config);
          const uses = [
            ...(opts.use !== 'identity' ? [{ use: ACCESS_TOKEN_KEY_USE, label: 'access tokens', publishedFor: accessTokenTtl }] : []),
            ...(opts.use !== 'access-tokens' ? [{ use: IDENTITY_KEY_USE, label: 'upstream identity JWTs', publishedFor: PUBLICATION_WINDOW_MS }] : []),
          ];
          const rotated = [];
          for (const { use, label, publishedFor } of uses) {
            const { kid, retired } = await rotateSigningKey(store.signingKeys, use);
            await record('keys.rotate-signing', kid, `new ${label} key; retired ${retired.join(', ') || 'none'}`, 'signing_key');
            rotated.push({ use, label, kid, retired, retiredPublishedUntil: new Date(Date.now() + publishedFor).toISOString() });
          }
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

interface KeysCommand extends Omit<StoreCommand, 'run' | 'failure'> {
  /** Exit code for an invalid_input refusal: 2 where it is a usage mistake (create), 1 where it is the key's state. */
  invalidInputExit: number;
  run: (env: StoreEnv & { apiKeys: ApiKeys }) => Promise<void>;
}

function owner(view: ApiKeyView): string {
  return view.tenant ? `${view.subject} (tenant ${view.tenant})` : view.subject;
}

function grants(view: ApiKeyView): string {
  const parts = [view.scopes.length ? `scopes ${view.scopes.join(' ')}` : '', view.roles.length ? `roles ${view.roles.join(' ')}` : ''];
  return parts.filter(Boolean).join(', ');
}

/** withStore with the store's API keys at hand, and the credential errors told as such. */
async function withKeys(opts: Common, { invalidInputExit, run, ...command }: KeysCommand): Promise<void> {
  const { ApiKeys, CredentialError } = await import('../../credentials/index.js');
  await withStore(opts, {
    ...command,
    run: (env) => run({ ...env, apiKeys: new ApiKeys(env.store.apiKeys) }),
    failure: (err) => {
      if (!(err instanceof CredentialError)) return undefined;
      if (err.code === 'not_found' && err.keyId !== undefined) return { message: unknownIdMessage(err.keyId), code: 1 };
      return { message: err.message, code: err.code === 'invalid_input' ? invalidInputExit : 1 };
    },
  });
}

/**
 * The id to look up. A whole key is accepted too (handy when revoking one that leaked), but then it is never
 * echoed: a mistyped key would otherwise end up in the terminal's scrollback and CI logs.
 */
async function keyId(arg: string): Promise<string> {
  const { API_KEY_PREFIX, parseApiKey, CredentialError } = await import('../../credentials/index.js');
  if (!arg.startsWith(API_KEY_PREFIX)) return arg;
  try {
    return parseApiKey(arg).id;
  } catch (err) {
    if (err instanceof CredentialError) throw new CliFailure(`${err.message}; or pass the key id that \`warden keys list\` shows`, 2);
    throw err;
  }
}

function unknownIdMessage(id: string): string {
  return `no API key with id ${printable(id)}; \`warden keys list\` shows them`;
}

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
