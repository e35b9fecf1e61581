import type { Command } from 'commander';
import type { WardenConfig } from '../../config/index.js';
import type { Store } from '../../store/index.js';
import type { UserDirectory, UserView } from '../../authorization-server/users.js';
import { CliFailure, checkDefined, collect, printJson, withStore, withStoreOptions, type Common, type StoreCommand, type StoreEnv } from '../store-command.js';
import { iso, plural, rows, table, when } from '../format.js';

/**
 * `warden users`: the built-in user directory of the embedded OAuth authorization server, in the store the
 * config names. Safe while `warden serve` runs on the same store: a disabled user's grants and tokens are
 * refused from the gateway's next request on.
 *
 * A password is never an argument (it would land in the shell history and in `ps`): it comes from stdin with
 * --password-stdin, from a prompt without echo on a terminal, or else is generated and printed once.
 */

const PASSWORD_STDIN_HELP = 'read the password from stdin (one trailing newline is dropped); without it a terminal is prompted, and otherwise a password is generated and printed once';

/** Appends an admin record (action, username, what changed) to the audit chain. */
type UserRecorder = (action: string, username: string, reason: string) => Promise<void>;

interface UsersCommand extends Pick<StoreCommand, 'check'> {
  /** Warn when the config does not turn on OAuth (every command but list). */
  warnWithoutOAuth: boolean;
  run: (env: Omit<StoreEnv, 'record'> & { users: UserDirectory; record: UserRecorder }) => Promise<void>;
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
          const { checkUsername } = await import('../../authorization-server/users.js');
          checkUsername(username);
          checkRoles(roles, config);
          secret = await obtainPassword(opts.passwordStdin === true, username);
        },
        run: async ({ users, record }) => {
          const { password, generated } = secret!;
          const user = await users.add({ username, password, roles, tenant: opts.tenant, displayName: opts.name });
          try {
            await record('users.add', username, `${describe(user)}; password ${generated ? 'generated' : 'set'}`);
          } catch (err) {
            // A user who was added without a record must not be able to sign in: take it back before failing.
            await users.disable(username);
            throw new CliFailure(`the user was added disabled because its audit record could not be written: ${(err as Error).message}`, 1);
          }
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
        run: async ({ users }) => {
          const all = await users.list();
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
        run: async ({ users, store }) => {
          const { grantView, grantLines } = await import('./clients.js');
          const user = await users.require(username);
          const grants = (await store.oauth.list({ model: 'Grant', accountId: username }, Date.now())).map(grantView);
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
        run: async ({ users, store, config, record }) => {
          const user = await users.disable(username);
          const revoked = await revokeEverything(store, config, username);
          await recordOrFail(record, 'users.disable', username, `disabled; revoked ${grantCount(revoked)}`, 'the user was disabled');
          if (opts.json) return printJson({ ...userJson(user), revokedGrants: revoked });
          process.stdout.write(`disabled user ${username}; revoked ${grantCount(revoked)} with their tokens, and ended the user's sessions\n`);
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
        run: async ({ users, record }) => {
          const user = await users.enable(username);
          await recordOrFail(record, 'users.enable', username, 'enabled; lockout lifted', 'the user was enabled');
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
        run: async ({ users, store, config, record }) => {
          // Before asking for a password: nobody should type one for a user who does not exist.
          await users.require(username);
          const { password, generated } = await obtainPassword(opts.passwordStdin === true, username);
          const user = await users.resetPassword(username, password);
          // A reset is what one does when a password leaked: whatever was obtained with it goes too.
          const revoked = await revokeEverything(store, config, username);
          await recordOrFail(record, 'users.reset-password', username, `password ${generated ? 'generated' : 'set'}; revoked ${grantCount(revoked)}`, 'the password was reset');
          if (opts.json) {
            if (generated) process.stderr.write(`warden: ${shownOnce(username)}\n`);
            const out = { ...userJson(user), revokedGrants: revoked };
            return printJson(generated ? { ...out, password } : out);
          }
          if (generated) process.stdout.write(`${password}\n\n${shownOnce(username)}\n\n`);
          process.stdout.write(`reset the password of ${username}; revoked ${grantCount(revoked)} with their tokens, and ended the user's sessions\n`);
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
        check: (config) => checkRoles(opts.role, config),
        run: async ({ users, store, config, record }) => {
          const before = await users.get(username);
          const user = await users.setRoles(username, opts.role);
          // Scopes were cut to the roles when each grant was consented to: the grants must go, or refreshes would keep the old scopes.
          const revoked = await revokeEverything(store, config, username);
          await recordOrFail(record, 'users.set-roles', username, `roles ${list(user.roles)} (were ${list(before?.roles ?? [])}); ${revoked} grant(s) revoked`, 'the roles were set');
          if (opts.json) return printJson({ ...userJson(user), revokedGrants: revoked });
          process.stdout.write(`set the roles of ${username}; revoked ${revoked} grant(s), so apps sign in again under the new roles\n${details(user)}`);
        },
      });
    });
}

/** withStore with the user directory at hand, records about users, and the user errors told as such. */
async function withUsers(opts: Common, { warnWithoutOAuth, run, check }: UsersCommand): Promise<void> {
  const { UserDirectory, UserError } = await import('../../authorization-server/users.js');
  const oauthOf = (config: WardenConfig) => (config.auth === 'none' ? undefined : config.auth.oauth);
  await withStore(opts, {
    warning: (config, file) => (warnWithoutOAuth && !oauthOf(config)
      ? `${file} does not turn on OAuth, so nobody can sign in as these users yet; set auth: { oauth: {} } to turn on the authorization server`
      : undefined),
    check,
    run: ({ record, ...env }) => {
      const oauth = oauthOf(env.config);
      const users = new UserDirectory(env.store.users, { maxFailures: oauth?.login.maxFailures ?? 5, lockoutMs: oauth?.login.lockout ?? 900_000 });
      return run({ ...env, users, record: (action, username, reason) => record(action, username, reason, 'user') });
    },
    failure: (err) => (err instanceof UserError
      ? { message: err.message, code: err.code === 'invalid_username' || err.code === 'weak_password' ? 2 : 1 }
      : undefined),
  });
}

async function recordOrFail(record: UserRecorder, action: string, username: string, reason: string, done: string): Promise<void> {
  try {
    await record(action, username, reason);
  } catch (err) {
    throw new CliFailure(`${done}, but its audit record could not be written: ${(err as Error).message}`, 1);
  }
}

/** Every grant, token and session of the user; returns how many grants there were. */
async function revokeEverything(store: Store, config: WardenConfig, username: string): Promise<number> {
  const { revokeUser, revocationContext } = await import('../../authorization-server/revoke.js');
  const { accessTokenTtlOf } = await import('../../config/index.js');
  return (await revokeUser(revocationContext(store, accessTokenTtlOf(config)), username)).length;
}

function checkRoles(given: string[], config: WardenConfig): void {
  checkDefined('role', given, Object.keys(config.authorization.roles), 'authorization.roles');
}

// ---- passwords

interface Password {
  password: string;
  generated: boolean;
}

/** Longer than any password passwordProblem allows: stop reading there. */
const MAX_STDIN_BYTES = 64 * 1024;

async function obtainPassword(fromStdin: boolean, username: string): Promise<Password> {
  const { passwordProblem } = await import('../../authorization-server/password.js');
  let password: string;
  if (fromStdin) {
    password = (await readStdin()).replace(/\r?\n$/, '');
  } else if (process.stdin.isTTY) {
    password = await promptHidden(`Password for ${username}: `);
    const problem = passwordProblem(password);
    if (problem !== undefined) throw new CliFailure(problem, 2);
    if ((await promptHidden('Again: ')) !== password) throw new CliFailure('the two passwords differ; nothing was changed', 2);
  } else {
    const { randomBytes } = await import('node:crypto');
    // 144 bits, 24 characters of base64url.
    return { password: randomBytes(18).toString('base64url'), generated: true };
  }
  const problem = passwordProblem(password);
  if (problem !== undefined) throw new CliFailure(problem, 2);
  return { password, generated: false };
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

function list(values: string[]): string {
  return values.length > 0 ? values.join(', ') : 'none';
}

function grantCount(n: number): string {
  return plural(n, 'grant');
}

function describe(user: UserView): string {
  return [`roles ${list(user.roles)}`, user.tenant ? `tenant ${user.tenant}` : '', user.displayName ? `name ${user.displayName}` : ''].filter(Boolean).join('; ');
}

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
