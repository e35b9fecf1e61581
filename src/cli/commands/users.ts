import type { Command } from 'commander';
import { fstatSync } from 'node:fs';
import type { WardenConfig } from '../../config/index.js';
import type { UserView } from '../../authorization-server/users.js';
import { CliFailure, collect, printJson, withStore, withStoreOptions, type Common, type StoreCommand } from '../store-command.js';
import { iso, plural, rows, table, when } from '../format.js';

/**
 * `warden users`: the built-in user directory of the embedded OAuth authorization server, in the store the
 * config names. Safe while `warden serve` runs on the same store: a disabled user's grants and tokens are
 * refused from the gateway's next request on. What each change means (and revokes) is `admin/users.ts`.
 *
 * A password is never an argument (it would land in the shell history and in `ps`): it comes from stdin with
 * --password-stdin, from a prompt without echo on a terminal, or else is generated and printed once.
 */

const PASSWORD_STDIN_HELP = 'read the password from stdin (one trailing newline is dropped); without it a terminal is prompted, and otherwise a password is generated and printed once';

interface UsersCommand extends Pick<StoreCommand, 'check' | 'run'> {
  /** Warn when the config does not turn on OAuth (every command but list). */
  warnWithoutOAuth: boolean;
}

export function registerUsers(program: Command): void {
  const users = program.command('users').description('add, list, disable and enable the users who sign in at the built-in authorization server');

  withStoreOptions(users
    .command('add')
    .description('add a user who signs in with a password')
    .argument('<username>', 'the sign-in name, also the subject of the user\'s tokens (letters, digits, . _ @ -)')
    .option('--role <role>', 'a role from authorization.roles (repeatable)', collect)
    .option('--tenant <tenant>', 'the tenant the user belongs to')
    .option('--name <name>', 'display name, e.g. "Alice Liddell"')
    .option('--password-stdin', PASSWORD_STDIN_HELP))
    .action(async (username: string, opts: Common & { role?: string[]; tenant?: string; name?: string; passwordStdin?: boolean }) => {
      const roles = opts.role ?? [];
      let secret: Password | undefined;
      await withUsers(opts, {
        warnWithoutOAuth: true,
        check: async (config) => {
          const { checkNewUser } = await import('../../admin/index.js');
          checkNewUser(config, { username, roles });
          secret = await obtainPassword(opts.passwordStdin === true, username);
        },
        run: async ({ admin }) => {
          const { password, generated } = secret!;
          const user = await admin.users.add({ username, password, roles, tenant: opts.tenant, displayName: opts.name, passwordGenerated: generated });
          const out = userJson(user);
          if (opts.json) {
            if (generated) process.stderr.write(`warden: ${shownOnce(username)}\n`);
            return printJson(generated ? { ...out, password } : out);
          }
          if (generated) process.stdout.write(`${password}\n\n${shownOnce(username)}\n\n`);
          process.stdout.write(`added user ${username}\n${details(user)}`);
        },
      });
    });

  withStoreOptions(users
    .command('list')
    .description('list users (never their passwords or password hashes)'))
    .action(async (opts: Common) => {
      await withUsers(opts, {
        warnWithoutOAuth: false,
        run: async ({ admin }) => {
          const all = await admin.users.list();
          if (opts.json) return printJson(all.map((u) => userJson(u)));
          if (all.length === 0) {
            process.stdout.write('no users; `warden users add <username>` adds one\n');
            return;
          }
          process.stdout.write(userTable(all));
        },
      });
    });

  withStoreOptions(users
    .command('show')
    .description('show one user and the grants they hold (what they signed in to, with which scopes)')
    .argument('<username>', 'as `warden users list` shows it'))
    .action(async (username: string, opts: Common) => {
      await withUsers(opts, {
        warnWithoutOAuth: false,
        run: async ({ admin }) => {
          const { grantLines } = await import('./clients.js');
          const { user, grants } = await admin.users.show(username);
          if (opts.json) return printJson({ ...userJson(user), grants });
          process.stdout.write(details(user));
          process.stdout.write(grants.length > 0 ? `\ngrants:\n${grants.map((g) => grantLines(g, '  ')).join('')}` : '\nno grants: the user has not signed in to any app, or everything was revoked\n');
        },
      });
    });

  withStoreOptions(users
    .command('disable')
    .description('stop a user from signing in, and revoke every grant and token they hold')
    .argument('<username>', 'as `warden users list` shows it'))
    .action(async (username: string, opts: Common) => {
      await withUsers(opts, {
        warnWithoutOAuth: true,
        run: async ({ admin }) => {
          const { user, revokedGrants } = await admin.users.disable(username);
          if (opts.json) return printJson({ ...userJson(user), revokedGrants });
          process.stdout.write(`disabled user ${username}; revoked ${plural(revokedGrants, 'grant')} with their tokens, and ended the user's sessions\n`);
        },
      });
    });

  withStoreOptions(users
    .command('enable')
    .description('let a disabled or locked-out user sign in again')
    .argument('<username>', 'as `warden users list` shows it'))
    .action(async (username: string, opts: Common) => {
      await withUsers(opts, {
        warnWithoutOAuth: true,
        run: async ({ admin }) => {
          const user = await admin.users.enable(username);
          if (opts.json) return printJson(userJson(user));
          process.stdout.write(`enabled user ${username}\n${details(user)}`);
        },
      });
    });

  withStoreOptions(users
    .command('reset-password')
    .description("set a new password (lifting a lockout), and revoke every grant and token the user holds")
    .argument('<username>', 'as `warden users list` shows it')
    .option('--password-stdin', PASSWORD_STDIN_HELP))
    .action(async (username: string, opts: Common & { passwordStdin?: boolean }) => {
      await withUsers(opts, {
        warnWithoutOAuth: true,
        run: async ({ admin }) => {
          // Before asking for a password: nobody should type one for a user who does not exist.
          await admin.users.get(username);
          const { password, generated } = await obtainPassword(opts.passwordStdin === true, username);
          const { user, revokedGrants } = await admin.users.resetPassword(username, password, { generated });
          if (opts.json) {
            if (generated) process.stderr.write(`warden: ${shownOnce(username)}\n`);
            const out = { ...userJson(user), revokedGrants };
            return printJson(generated ? { ...out, password } : out);
          }
          if (generated) process.stdout.write(`${password}\n\n${shownOnce(username)}\n\n`);
          process.stdout.write(`reset the password of ${username}; revoked ${plural(revokedGrants, 'grant')} with their tokens, and ended the user's sessions\n`);
        },
      });
    });

  withStoreOptions(users
    .command('set-roles')
    .description("replace a user's roles")
    .argument('<username>', 'as `warden users list` shows it')
    .requiredOption('--role <role>', 'a role from authorization.roles (repeatable)', collect))
    .action(async (username: string, opts: Common & { role: string[] }) => {
      await withUsers(opts, {
        warnWithoutOAuth: true,
        check: async (config) => (await import('../../admin/index.js')).checkRoles(config, opts.role),
        run: async ({ admin }) => {
          const { user, revokedGrants } = await admin.users.setRoles(username, opts.role);
          if (opts.json) return printJson({ ...userJson(user), revokedGrants });
          process.stdout.write(`set the roles of ${username}; revoked ${revokedGrants} grant(s), so apps sign in again under the new roles\n${details(user)}`);
        },
      });
    });
}

/** withStore, warning when the config does not turn on OAuth. */
async function withUsers(opts: Common, { warnWithoutOAuth, run, check }: UsersCommand): Promise<void> {
  await withStore(opts, {
    warning: (config: WardenConfig, file) => (warnWithoutOAuth && (config.auth === 'none' || !config.auth.oauth)
      ? `${file} does not turn on OAuth, so nobody can sign in as these users yet; set auth: { oauth: {} } to turn on the authorization server`
      : undefined),
    check,
    run,
  });
}

// ---- passwords

interface Password {
  password: string;
  generated: boolean;
}

/** Longer than any password checkPassword allows: stop reading there. */
const MAX_STDIN_BYTES = 64 * 1024;

async function obtainPassword(fromStdin: boolean, username: string): Promise<Password> {
  const { checkPassword } = await import('../../admin/index.js');
  let password: string;
  if (fromStdin) {
    password = (await readStdin()).replace(/\r?\n$/, '');
  } else if (process.stdin.isTTY) {
    password = await promptHidden(`Password for ${username}: `);
    checkPassword(password);
    if ((await promptHidden('Again: ')) !== password) throw new CliFailure('the two passwords differ; nothing was changed', 2);
  } else if (stdinCarriesData()) {
    // A password piped in without --password-stdin was once ignored, and another one generated, silently.
    throw new CliFailure('stdin is a pipe or a file: pass --password-stdin to set the password from it; to have one generated, give no stdin (</dev/null)', 2);
  } else {
    const { randomBytes } = await import('node:crypto');
    // 144 bits, 24 characters of base64url.
    return { password: randomBytes(18).toString('base64url'), generated: true };
  }
  checkPassword(password);
  return { password, generated: false };
}

function stdinCarriesData(): boolean {
  try {
    const stat = fstatSync(0);
    return stat.isFIFO() || stat.isFile() || stat.isSocket();
  } catch {
    return false;
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    chunks.push(buf);
    size += buf.length;
    if (size > MAX_STDIN_BYTES) throw new CliFailure(`the password on stdin is too long (more than ${MAX_STDIN_BYTES} bytes)`, 2);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Asks on the terminal (prompt on stderr, so that stdout stays clean for --json) without echoing what is typed. */
async function promptHidden(question: string): Promise<string> {
  const { createInterface } = await import('node:readline');
  const { Writable } = await import('node:stream');
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer | string, encoding: BufferEncoding, done: (err?: Error | null) => void) {
      if (!muted) process.stderr.write(chunk, encoding);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  const cancelled = (reject: (err: Error) => void) => () => reject(new CliFailure('cancelled; nothing was changed', 130));
  let onClose: (() => void) | undefined;
  try {
    return await new Promise<string>((resolve, reject) => {
      onClose = cancelled(reject);
      rl.on('SIGINT', onClose);
      rl.on('close', onClose);
      rl.question(question, resolve);
      muted = true;
    });
  } finally {
    muted = false;
    // Only this listener: readline's own 'close' listener detaches it from stdin, or it would echo the next prompt's answer.
    if (onClose) rl.off('close', onClose);
    rl.close();
    process.stderr.write('\n');
  }
}

function shownOnce(username: string): string {
  return `This is the only time the generated password is shown: hand it to ${username} now (e.g. through a password manager).\n`
    + 'warden keeps only a hash of it; a lost password cannot be recovered, only reset with `warden users reset-password`.';
}

// ---- output

type Status = 'active' | 'disabled' | 'locked';

function status(user: UserView, now: number): Status {
  if (user.disabledAt !== null) return 'disabled';
  if (user.lockedUntil !== null && user.lockedUntil > now) return 'locked';
  return 'active';
}

function statusText(user: UserView, now: number): string {
  const s = status(user, now);
  return s === 'locked' ? `locked until ${when(user.lockedUntil, '-')}` : s;
}

function userJson(user: UserView, now = Date.now()) {
  const s = status(user, now);
  return {
    username: user.username, displayName: user.displayName, roles: user.roles, tenant: user.tenant, status: s,
    lockedUntil: s === 'locked' ? iso(user.lockedUntil) : null, failedLogins: user.failedLogins,
    createdAt: iso(user.createdAt), passwordChangedAt: iso(user.passwordChangedAt), disabledAt: iso(user.disabledAt),
  };
}

function details(user: UserView, now = Date.now()): string {
  const pairs: [string, string][] = [
    ['username', user.username],
    ['name', user.displayName ?? '-'],
    ['roles', user.roles.join(', ') || '-'],
    ['tenant', user.tenant ?? '-'],
    ['status', statusText(user, now)],
    ['created', when(user.createdAt, '-')],
    ['password set', when(user.passwordChangedAt, '-')],
  ];
  if (user.disabledAt !== null) pairs.push(['disabled', when(user.disabledAt, '-')]);
  return rows(pairs, 14);
}

function userTable(users: UserView[], now = Date.now()): string {
  return table(
    ['USERNAME', 'NAME', 'ROLES', 'TENANT', 'STATUS', 'CREATED'],
    users.map((u) => [u.username, u.displayName ?? '-', u.roles.join(',') || '-', u.tenant ?? '-', statusText(u, now), when(u.createdAt, '-')]),
  );
}
