import type { Command } from 'commander';
import type { OAuthModelRecord } from '../../store/index.js';
import type { RevocationContext } from '../../authorization-server/revoke.js';
import { CliFailure, checkDefined, collect, printJson, withStore, withStoreOptions, type Common, type StoreCommand, type StoreEnv } from '../store-command.js';
import { iso, known, plural, rows, printable, shortIso, table } from '../format.js';
import { CONTROL_CHARACTERS } from '../../shared/text.js';

/**
 * `warden clients`: the OAuth clients registered with the embedded authorization server (dynamic
 * registrations, and service clients made here for the client_credentials grant). Like `warden keys`, safe
 * while `warden serve` runs on the same store: a removal takes effect at the gateway's next request.
 */

export interface OAuthCommand extends Pick<StoreCommand, 'check'> {
  run: (env: StoreEnv & {
    /** A revocation context as of `now` (call it right before revoking). */
    revocation: (now: number) => RevocationContext;
  }) => Promise<void>;
}

/** withStore that warns when the config does not turn on OAuth, with revocation contexts at hand. */
export async function withOAuthStore(opts: Common, { check, run }: OAuthCommand): Promise<void> {
  await withStore(opts, {
    warning: (config, file) => (config.auth === 'none' || !config.auth.oauth
      ? `${file} does not turn on OAuth, so the gateway neither issues nor accepts OAuth tokens; set auth: { oauth: {} } to use them`
      : undefined),
    check,
    run: async (env) => {
      const { revocationContext } = await import('../../authorization-server/revoke.js');
      const { accessTokenTtlOf } = await import('../../config/index.js');
      const { config, store } = env;
      const ttl = accessTokenTtlOf(config);
      await run({ ...env, revocation: (now) => ({ ...revocationContext(store, ttl), now }) });
    },
  });
}

/** Until when a revocation listed at `now` stays listed (as listRevocation computes it). */
export function listedUntil(ctx: RevocationContext, now: number): string {
  return new Date(now + ctx.accessTokenTtlMs + 60_000).toISOString();
}

/** The payload of a stored record, or {} when it is not a JSON object (a record is never worth a crash of the CLI). */
export function payloadOf(record: OAuthModelRecord): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(record.payload);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const strings = (v: unknown): string[] | null => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const words = (scope: unknown): string[] => (typeof scope === 'string' ? scope.split(' ').filter(Boolean) : []);

/**
 * How a client came to be: `service` (made by `warden clients add`: the client_credentials grant only),
 * `metadata-document` (an https client_id, a Client ID Metadata Document), or `dynamic` (RFC 7591 registration).
 * Told apart by the metadata alone: oidc-provider strips properties it does not know when it loads a client.
 */
export type ClientKind = 'service' | 'metadata-document' | 'dynamic';

export interface ClientView {
  client_id: string;
  client_name: string | null;
  kind: ClientKind;
  grant_types: string[];
  response_types: string[];
  redirect_uris: string[];
  token_endpoint_auth_method: string;
  application_type: string | null;
  scope: string | null;
  client_uri: string | null;
  createdAt: string | null;
  /** Unexpired grants of the client. */
  liveGrants: number;
}

export interface GrantView {
  id: string;
  user: string | null;
  clientId: string | null;
  /** OpenID scopes (openid, offline_access...). */
  scopes: string[];
  /** Resource (the gateway's MCP URL) -> the scopes granted for it. */
  resources: Record<string, string[]>;
  createdAt: string | null;
  expiresAt: string | null;
}

/** A client's metadata as shown: never client_secret, not even its digest. Defaults are oidc-provider's. */
export function clientView(record: OAuthModelRecord, liveGrants: number): ClientView {
  const p = payloadOf(record);
  const grantTypes = strings(p.grant_types) ?? ['authorization_code'];
  const clientId = str(p.client_id) ?? record.id;
  const kind: ClientKind = grantTypes.length > 0 && grantTypes.every((g) => g === 'client_credentials')
    ? 'service'
    : clientId.startsWith('https://') ? 'metadata-document' : 'dynamic';
  const issuedAt = num(p.client_id_issued_at);
  return {
    client_id: record.id,
    client_name: str(p.client_name),
    kind,
    grant_types: grantTypes,
    response_types: strings(p.response_types) ?? ['code'],
    redirect_uris: strings(p.redirect_uris) ?? [],
    token_endpoint_auth_method: str(p.token_endpoint_auth_method) ?? 'client_secret_basic',
    application_type: str(p.application_type),
    scope: str(p.scope),
    client_uri: str(p.client_uri),
    createdAt: iso(issuedAt === null ? null : issuedAt * 1000),
    liveGrants,
  };
}

export function grantView(record: OAuthModelRecord): GrantView {
  const p = payloadOf(record);
  const openid = p.openid !== null && typeof p.openid === 'object' ? (p.openid as Record<string, unknown>) : {};
  const resources: Record<string, string[]> = {};
  if (p.resources !== null && typeof p.resources === 'object') {
    for (const [url, scope] of Object.entries(p.resources as Record<string, unknown>)) resources[url] = words(scope);
  }
  const iat = num(p.iat);
  const exp = num(p.exp);
  return {
    id: record.id,
    user: str(p.accountId),
    clientId: str(p.clientId),
    scopes: words(openid.scope),
    resources,
    createdAt: iso(iat === null ? null : iat * 1000),
    expiresAt: iso(exp !== null ? exp * 1000 : record.expiresAt),
  };
}

/** One line per resource: `https://gw/mcp: notes:read notes:write`. */
export function grantLines(g: GrantView, indent: string): string {
  const lines = [
    `${indent}grant ${printable(g.id)}`,
    `${indent}  user:      ${printable(g.user ?? '-')}`,
    `${indent}  created:   ${shortIso(g.createdAt, '-')}`,
    `${indent}  expires:   ${shortIso(g.expiresAt, 'never')}`,
  ];
  if (g.scopes.length > 0) lines.push(`${indent}  openid:    ${printable(g.scopes.join(' '))}`);
  const resources = Object.entries(g.resources);
  if (resources.length === 0) lines.push(`${indent}  resources: -`);
  for (const [i, [url, scopes]] of resources.entries()) {
    lines.push(`${indent}  ${i === 0 ? 'resources: ' : '           '}${printable(url)}: ${printable(scopes.join(' ') || '-')}`);
  }
  return lines.map((l) => `${l}\n`).join('');
}

function clientDetails(c: ClientView): string {
  return rows([
    ['client_id', printable(c.client_id)],
    ['name', printable(c.client_name ?? '-')],
    ['kind', c.kind],
    ['grant types', printable(c.grant_types.join(', ') || '-')],
    ['redirect URIs', printable(c.redirect_uris.join(', ') || '-')],
    ['auth method', printable(c.token_endpoint_auth_method)],
    ...(c.scope !== null ? [['scope', printable(c.scope)] as [string, string]] : []),
    ...(c.client_uri !== null ? [['client URI', printable(c.client_uri)] as [string, string]] : []),
    ['created', shortIso(c.createdAt, '-')],
    ['live grants', String(c.liveGrants)],
  ]);
}

function unknownClientMessage(id: string): string {
  return `no client with id ${printable(id)}; \`warden clients list --all\` shows them`;
}

/** A service client's id: `svc_` and 16 base64url characters (96 random bits). */
async function serviceClientId(): Promise<string> {
  const { randomBytes } = await import('node:crypto');
  return `svc_${randomBytes(12).toString('base64url')}`;
}

export function registerClients(program: Command): void {
  const clients = program.command('clients').description('list, inspect, add and remove OAuth clients');

  withStoreOptions(clients
    .command('list')
    .description('list OAuth clients (never their secrets)')
    .option('--all', 'include dynamic registrations that hold no live grant'))
    .action(async (opts: Common & { all?: boolean }) => {
      await withOAuthStore(opts, {
        run: async ({ store }) => {
          const now = Date.now();
          const grantsPer = new Map<string, number>();
          for (const g of await store.oauth.list({ model: 'Grant' }, now)) {
            const clientId = str(payloadOf(g).clientId);
            if (clientId !== null) grantsPer.set(clientId, (grantsPer.get(clientId) ?? 0) + 1);
          }
          const all = (await store.oauth.list({ model: 'Client' }, now)).map((r) => clientView(r, grantsPer.get(r.id) ?? 0));
          // MCP clients register anew on many a start: without --all, only the registrations in use.
          const views = opts.all ? all : all.filter((c) => c.kind === 'service' || c.liveGrants > 0);
          if (opts.json) return printJson(views);
          if (views.length === 0) {
            const hidden = all.length - views.length;
            process.stdout.write(`no OAuth clients${opts.all ? '' : ` in use${hidden > 0 ? ` (--all includes ${plural(hidden, 'registration')} without a live grant)` : ''}`}\n`);
            return;
          }
          process.stdout.write(table(
            ['CLIENT ID', 'NAME', 'KIND', 'GRANT TYPES', 'AUTH', 'CREATED', 'GRANTS', 'REDIRECT URIS'],
            views.map((c) => [
              printable(c.client_id), printable(c.client_name ?? '-'), c.kind, printable(c.grant_types.join(',') || '-'), printable(c.token_endpoint_auth_method),
              shortIso(c.createdAt, '-'), String(c.liveGrants), printable(c.redirect_uris.join(',') || '-'),
            ]),
          ));
        },
      });
    });

  withStoreOptions(clients
    .command('show')
    .description('show one OAuth client and its grants (never its secret)')
    .argument('<client_id>', 'as `warden clients list` shows it'))
    .action(async (clientId: string, opts: Common) => {
      await withOAuthStore(opts, {
        run: async ({ store }) => {
          const now = Date.now();
          const record = await store.oauth.find('Client', clientId, now);
          if (!record) throw new CliFailure(unknownClientMessage(clientId), 1);
          const grants = (await store.oauth.list({ model: 'Grant', clientId }, now)).map(grantView);
          const view = clientView(record, grants.length);
          if (opts.json) return printJson({ ...view, grants });
          process.stdout.write(clientDetails(view));
          if (grants.length > 0) process.stdout.write(`\ngrants:\n${grants.map((g) => grantLines(g, '  ')).join('')}`);
        },
      });
    });

  withStoreOptions(clients
    .command('revoke')
    .description('remove an OAuth client: its registration, grants and tokens (access tokens are refused from the next request on)')
    .argument('<client_id>', 'as `warden clients list` shows it'))
    .action(async (clientId: string, opts: Common) => {
      await withOAuthStore(opts, {
        run: async ({ store, record, revocation }) => {
          const { removeClient } = await import('../../authorization-server/revoke.js');
          const now = Date.now();
          const found = await store.oauth.find('Client', clientId, now);
          const view = found && clientView(found, 0);
          const grants = (await store.oauth.list({ model: 'Grant', clientId }, now)).map((g) => g.id);
          const ctx = revocation(now);
          // Even for an unknown id: it lists the client as revoked (fail closed) and takes any grant it still holds.
          await removeClient(ctx, clientId);
          const what = view
            ? `${view.kind} client${view.client_name ? ` "${view.client_name}"` : ''}: registration removed`
            : 'no such client registered; listed as revoked anyway';
          await record('clients.revoke', clientId, `${what}, ${plural(grants.length, 'grant')} revoked${grants.length ? ` (${grants.join(', ')})` : ''}`, 'client');
          const until = listedUntil(ctx, now);
          if (opts.json) {
            printJson({ client_id: clientId, removed: view !== undefined, kind: view?.kind ?? null, client_name: view?.client_name ?? null, grants, listedUntil: until });
          } else {
            process.stdout.write(`${view ? `removed client ${printable(clientId)}` : `no client ${printable(clientId)} was registered`}; revoked ${plural(grants.length, 'grant')}${grants.length ? `: ${printable(grants.join(', '))}` : ''}\n`);
            process.stdout.write(`access tokens issued to it are refused until they expire (listed as revoked until ${until})\n`);
          }
          if (!view) throw new CliFailure(unknownClientMessage(clientId), 1);
        },
      });
    });

  withStoreOptions(clients
    .command('add')
    .description('add a service client for the client_credentials grant; its secret is printed once and never again')
    .requiredOption('--name <name>', 'what the client is, e.g. the service that uses it')
    .option('--scope <scope>', 'a scope from authorization.scopes (repeatable; at least one)', collect))
    .action(async (opts: Common & { name: string; scope?: string[] }) => {
      const scopes = [...new Set(opts.scope ?? [])];
      const name = opts.name.trim();
      await withOAuthStore(opts, {
        check: (config, file) => {
          if (config.auth !== 'none' && config.auth.oauth && !config.auth.oauth.clientCredentials) {
            process.stderr.write(`warden: warning: ${file} turns off auth.oauth.clientCredentials, so the client cannot get tokens until it is on\n`);
          }
          if (name === '' || CONTROL_CHARACTERS.test(name)) throw new CliFailure('--name must be non-empty text without control characters', 2);
          const defined = Object.keys(config.authorization.scopes);
          if (scopes.length === 0) throw new CliFailure(`a client needs at least one --scope, or it could call nothing (${known(defined)})`, 2);
          checkDefined('scope', scopes, defined, 'authorization.scopes', printable);
        },
        run: async ({ store, record }) => {
          const { generateClientSecret, hashClientSecret } = await import('../../authorization-server/client-secrets.js');
          const clientId = await serviceClientId();
          const secret = generateClientSecret();
          const now = Date.now();
          const payload = {
            client_id: clientId,
            client_secret: hashClientSecret(secret),
            client_name: name,
            grant_types: ['client_credentials'],
            response_types: [],
            redirect_uris: [],
            token_endpoint_auth_method: 'client_secret_basic',
            scope: scopes.join(' '),
            client_id_issued_at: Math.floor(now / 1000),
          };
          await store.oauth.upsert({
            model: 'Client', id: clientId, payload: JSON.stringify(payload), grantId: null, userCode: null, uid: null, expiresAt: null, consumedAt: null,
          });
          try {
            await record('clients.add', clientId, `service client "${name}": scopes ${scopes.join(' ')}`, 'client');
          } catch (err) {
            // An unrecorded credential must not exist: take it back before failing.
            await store.oauth.destroy('Client', clientId);
            throw new CliFailure(`the client was not added because its audit record could not be written: ${(err as Error).message}`, 1);
          }
          const view = clientView({ model: 'Client', id: clientId, payload: JSON.stringify(payload), grantId: null, userCode: null, uid: null, expiresAt: null, consumedAt: null }, 0);
          if (opts.json) return printJson({ ...view, client_secret: secret });
          process.stdout.write(`${rows([['client_id', clientId], ['client_secret', secret]])}\n${SECRET_SHOWN_ONCE}\n\n${clientDetails(view)}`);
        },
      });
    });
}

const SECRET_SHOWN_ONCE = 'This is the only time the client secret is shown: store it now (e.g. in a secret manager).\n'
  + 'warden keeps only a hash of it; a lost secret cannot be recovered: `warden clients revoke` the client and add another.\n'
  + 'The client authenticates with HTTP Basic (client_secret_basic) at the token endpoint, grant_type=client_credentials.';
