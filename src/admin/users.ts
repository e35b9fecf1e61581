import type { WardenConfig } from '../config/index.js';
import { revokeUser } from '../authorization-server/revoke.js';
import { checkUsername, UserDirectory, UserError, type UserView } from '../authorization-server/users.js';
import { passwordProblem } from '../authorization-server/password.js';
import { plural } from '../shared/text.js';
import { checkDefined, nowOf, recordOrFail, recordOrUndo, type AdminContext } from './context.js';
import { AdminError } from './errors.js';
import { grantView, type GrantView } from './oauth-views.js';
import { revocationAt } from './revocation.js';

/**
 * The users of the embedded authorization server's built-in directory. Taking something from a user (disabling
 * them, resetting their password, changing their roles) also revokes every grant, token and sign-in session they
 * hold: the gateway refuses them from its next request on.
 */

export interface NewUser {
  username: string;
  password: string;
  /** Roles from authorization.roles. */
  roles: string[];
  tenant?: string;
  displayName?: string;
  /** Whether the caller generated the password (the record says so; the password itself is never recorded). */
  passwordGenerated?: boolean;
}

/** Refuses a username that may not be added, or a role the config does not define; needs no store. */
export function checkNewUser(config: WardenConfig, user: Pick<NewUser, 'username' | 'roles'>): void {
  try {
    checkUsername(user.username);
  } catch (err) {
    throw adminErrorOf(err, user.username);
  }
  checkRoles(config, user.roles);
}

export function checkRoles(config: WardenConfig, roles: readonly string[]): void {
  checkDefined('role', roles, config);
}

/** Refuses a password too weak to set, saying why. */
export function checkPassword(password: string): void {
  const problem = passwordProblem(password);
  if (problem !== undefined) throw new AdminError('invalid_input', problem);
}

/** The user directory (sign-in throttling is the running authorization server's, not the directory's). */
export function userDirectory(ctx: Pick<AdminContext, 'store'>): UserDirectory {
  return new UserDirectory(ctx.store.users);
}

/** The directory's own refusals as admin errors; anything else as it is. */
function adminErrorOf(err: unknown, username: string): unknown {
  if (!(err instanceof UserError)) return err;
  const code = err.code === 'not_found' ? 'not_found' : err.code === 'exists' ? 'conflict' : 'invalid_input';
  return new AdminError(code, err.message, { kind: 'user', id: username });
}

const list = (values: string[]): string => (values.length > 0 ? values.join(', ') : 'none');

export interface UserRevocation {
  user: UserView;
  /** How many grants were revoked with their tokens. */
  revokedGrants: number;
}

export class UsersAdmin {
  private readonly users: UserDirectory;

  constructor(private readonly ctx: AdminContext) {
    this.users = userDirectory(ctx);
  }

  /** Adds a user who signs in with a password. Recorded, or not added at all: an unrecorded user is disabled again. */
  async add(input: NewUser): Promise<UserView> {
    checkNewUser(this.ctx.config, input);
    const user = await this.directory(input.username, (d) => d.add({
      username: input.username, password: input.password, roles: input.roles, tenant: input.tenant, displayName: input.displayName,
    }, nowOf(this.ctx)));
    const described = [`roles ${list(user.roles)}`, user.tenant ? `tenant ${user.tenant}` : '', user.displayName ? `name ${user.displayName}` : ''].filter(Boolean).join('; ');
    await recordOrUndo(this.ctx, { action: 'users.add', target: user.username, targetKind: 'user', reason: `${described}; password ${input.passwordGenerated ? 'generated' : 'set'}` },
      () => this.users.disable(user.username), 'the user was added disabled');
    return user;
  }

  /** By username; never a password hash. */
  list(): Promise<UserView[]> {
    return this.users.list();
  }

  /** The user, or AdminError('not_found'). */
  get(username: string): Promise<UserView> {
    return this.directory(username, (d) => d.require(username));
  }

  /** The user and the grants they hold (what they signed in to, with which scopes). */
  async show(username: string): Promise<{ user: UserView; grants: GrantView[] }> {
    const user = await this.get(username);
    const grants = (await this.ctx.store.oauth.list({ model: 'Grant', accountId: username }, nowOf(this.ctx))).map(grantView);
    return { user, grants };
  }

  /** The user can no longer sign in, and loses every grant, token and session. Disabling twice is harmless. */
  async disable(username: string): Promise<UserRevocation> {
    const user = await this.directory(username, (d) => d.disable(username, nowOf(this.ctx)));
    const revokedGrants = await this.revokeEverything(username);
    await recordOrFail(this.ctx, this.change('users.disable', username, `disabled; revoked ${plural(revokedGrants, 'grant')}`), 'the user was disabled');
    return { user, revokedGrants };
  }

  /** The user can sign in again; a lockout in force is lifted too. */
  async enable(username: string): Promise<UserView> {
    const user = await this.directory(username, (d) => d.enable(username));
    await recordOrFail(this.ctx, this.change('users.enable', username, 'enabled; lockout lifted'), 'the user was enabled');
    return user;
  }

  /**
   * Sets a new password and lifts a lockout. A reset is what one does when a password leaked: whatever was
   * obtained with it goes too (every grant, token and session).
   */
  async resetPassword(username: string, password: string, options: { generated?: boolean } = {}): Promise<UserRevocation> {
    checkPassword(password);
    const user = await this.directory(username, (d) => d.resetPassword(username, password, nowOf(this.ctx)));
    const revokedGrants = await this.revokeEverything(username);
    await recordOrFail(this.ctx, this.change('users.reset-password', username, `password ${options.generated ? 'generated' : 'set'}; revoked ${plural(revokedGrants, 'grant')}`),
      'the password was reset');
    return { user, revokedGrants };
  }

  /**
   * Replaces the user's roles. Scopes were cut to the roles when each grant was consented to, so the grants go
   * too: otherwise refreshes would keep the old scopes. Apps sign in again under the new roles.
   */
  async setRoles(username: string, roles: string[]): Promise<UserRevocation & { previousRoles: string[] }> {
    checkRoles(this.ctx.config, roles);
    const before = await this.get(username);
    const user = await this.directory(username, (d) => d.setRoles(username, roles));
    const revokedGrants = await this.revokeEverything(username);
    await recordOrFail(this.ctx, this.change('users.set-roles', username, `roles ${list(user.roles)} (were ${list(before.roles)}); ${revokedGrants} grant(s) revoked`),
      'the roles were set');
    return { user, revokedGrants, previousRoles: before.roles };
  }

  /** Every grant, token and session of the user; how many grants there were. */
  private async revokeEverything(username: string): Promise<number> {
    return (await revokeUser(revocationAt(this.ctx).revocation, username)).length;
  }

  private change(action: string, username: string, reason: string) {
    return { action, target: username, targetKind: 'user' as const, reason };
  }

  private async directory<T>(username: string, run: (users: UserDirectory) => Promise<T>): Promise<T> {
    try {
      return await run(this.users);
    } catch (err) {
      throw adminErrorOf(err, username);
    }
  }
}
