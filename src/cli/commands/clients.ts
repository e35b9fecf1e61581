import type { Command } from 'commander';
import type { ClientView, GrantView } from '../../admin/index.js';
import { collect, printJson, withStore, withStoreOptions, type Common, type StoreCommand } from '../store-command.js';
import { plural, rows, printable, shortIso, table } from '../format.js';

/**
 * `warden clients`: the OAuth clients registered with the embedded authorization server (dynamic
 * registrations, and service clients made here for the client_credentials grant). Like `warden keys`, safe
 * while `warden serve` runs on the same store: a removal takes effect at the gateway's next request.
 */

/** withStore that warns when the config does not turn on OAuth. */
export async function withOAuthStore(opts: Common, { check, run }: Pick<StoreCommand, 'check' | 'run'>): Promise<void> {
  await withStore(opts, {
    warning: (config, file) => (config.auth === 'none' || !config.auth.oauth
      ? `${file} does not turn on OAuth, so the gateway neither issues nor accepts OAuth tokens; set auth: { oauth: {} } to use them`
      : undefined),
    check,
    run,
  });
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

export function registerClients(program: Command): void {
  const clients = program.command('clients').description('list, inspect, add and remove OAuth clients');

  withStoreOptions(clients
    .command('list')
    .description('list OAuth clients (never their secrets)')
    .option('--all', 'include dynamic registrations that hold no live grant'))
    .action(async (opts: Common & { all?: boolean }) => {
      await withOAuthStore(opts, {
        run: async ({ admin }) => {
          const { clients: views, idle } = await admin.clients.list({ includeIdle: opts.all === true });
          if (opts.json) return printJson(views);
          if (views.length === 0) {
            process.stdout.write(`no OAuth clients${opts.all ? '' : ` in use${idle > 0 ? ` (--all includes ${plural(idle, 'registration')} without a live grant)` : ''}`}\n`);
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
        run: async ({ admin }) => {
          const { client, grants } = await admin.clients.show(clientId);
          if (opts.json) return printJson({ ...client, grants });
          process.stdout.write(clientDetails(client));
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
        run: async ({ admin }) => {
          const out = await admin.clients.revoke(clientId);
          const { grants } = out;
          if (opts.json) {
            printJson(out);
          } else {
            process.stdout.write(`${out.removed ? `removed client ${printable(clientId)}` : `no client ${printable(clientId)} was registered`}; revoked ${plural(grants.length, 'grant')}${grants.length ? `: ${printable(grants.join(', '))}` : ''}\n`);
            process.stdout.write(`access tokens issued to it are refused until they expire (listed as revoked until ${out.listedUntil})\n`);
          }
          // Revoked all the same (fail closed), but a mistyped id should not pass for a removal.
          if (!out.removed) throw (await import('../../admin/index.js')).unknownClient(clientId);
        },
      });
    });

  withStoreOptions(clients
    .command('add')
    .description('add a service client for the client_credentials grant; its secret is printed once and never again')
    .requiredOption('--name <name>', 'what the client is, e.g. the service that uses it')
    .option('--scope <scope>', 'a scope from authorization.scopes (repeatable; at least one)', collect)
    .option('--tls-subject-dn <dn>', 'authenticate with a client certificate of this subject DN (RFC 4514, e.g. "CN=ci,O=Example") instead of a secret (tls_client_auth)')
    .option('--tls-san-uri <uri>', 'authenticate with a client certificate carrying this URI SAN (e.g. a SPIFFE ID) instead of a secret')
    .option('--tls-san-dns <name>', 'authenticate with a client certificate carrying this DNS SAN instead of a secret')
    .option('--tls-san-email <address>', 'authenticate with a client certificate carrying this email SAN instead of a secret')
    .option('--tls-san-ip <address>', 'authenticate with a client certificate carrying this IP SAN instead of a secret'))
    .action(async (opts: Common & { name: string; scope?: string[] } & Partial<Record<TlsOption, string>>) => {
      const names = TLS_OPTIONS.filter((o) => opts[o] !== undefined);
      const certificate = names[0] ? { property: TLS_PROPERTY[names[0]], value: opts[names[0]]! } : undefined;
      const input = { name: opts.name, scopes: opts.scope ?? [], ...(certificate ? { certificate } : {}) };
      await withOAuthStore(opts, {
        check: async (config, file) => {
          const { checkNewServiceClient, clientCredentialsOff } = await import('../../admin/index.js');
          if (clientCredentialsOff(config)) {
            process.stderr.write(`warden: warning: ${file} turns off auth.oauth.clientCredentials, so the client cannot get tokens until it is on\n`);
          }
          if (names.length > 1) {
            const { AdminError } = await import('../../admin/index.js');
            throw new AdminError('invalid_input', 'name one certificate name: --tls-subject-dn, --tls-san-uri, --tls-san-dns, --tls-san-email or --tls-san-ip');
          }
          checkNewServiceClient(config, input);
        },
        run: async ({ admin }) => {
          const { client, secret } = await admin.clients.addService(input);
          if (opts.json) return printJson({ ...client, ...(secret ? { client_secret: secret } : {}) });
          if (!secret) {
            process.stdout.write(`${rows([['client_id', client.client_id]])}\n${CERTIFICATE_CLIENT}\n\n${clientDetails(client)}`);
            return;
          }
          process.stdout.write(`${rows([['client_id', client.client_id], ['client_secret', secret]])}\n${SECRET_SHOWN_ONCE}\n\n${clientDetails(client)}`);
        },
      });
    });
}

const TLS_OPTIONS = ['tlsSubjectDn', 'tlsSanUri', 'tlsSanDns', 'tlsSanEmail', 'tlsSanIp'] as const;
type TlsOption = (typeof TLS_OPTIONS)[number];
const TLS_PROPERTY = {
  tlsSubjectDn: 'tls_client_auth_subject_dn', tlsSanUri: 'tls_client_auth_san_uri', tlsSanDns: 'tls_client_auth_san_dns',
  tlsSanEmail: 'tls_client_auth_san_email', tlsSanIp: 'tls_client_auth_san_ip',
} as const;

const CERTIFICATE_CLIENT = 'The client has no secret: it authenticates with its client certificate over mutual TLS (tls_client_auth, RFC 8705)\n'
  + 'at the token endpoint, grant_type=client_credentials and client_id in the form; its access tokens are bound to that certificate.';

const SECRET_SHOWN_ONCE = 'This is the only time the client secret is shown: store it now (e.g. in a secret manager).\n'
  + 'warden keeps only a hash of it; a lost secret cannot be recovered: `warden clients revoke` the client and add another.\n'
  + 'The client authenticates with HTTP Basic (client_secret_basic) at the token endpoint, grant_type=client_credentials.';
