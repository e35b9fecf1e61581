import { StoreError, type UserRecord, type UserStore } from '../store/index.js';
import { hashPassword, needsRehash, passwordProblem, verifyAgainstDummy, verifyPassword } from './password.js';
import { printable } from '../shared/text.js';

/**
 * The built-in user directory of the embedded authorization server: who may sign in with a password, and
 * with which roles. A user's subject in tokens is the username. Passwords are kept as scrypt hashes only
 * (password.ts), and nothing this class returns carries the hash.
 */

export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

export type UserErrorCode = 'invalid_username' | 'weak_password' | 'exists' | 'not_found';

export class UserError extends Error {
  constructor(readonly code: UserErrorCode, message: string) {
    super(message);
    this.name = 'UserError';
  }
}

export interface NewUser {
  username: string;
  password: string;
  roles: string[];
  tenant?: string | null;
  displayName?: string | null;
}

/** A user as the directory hands it out: everything but the password hash. */
export type UserView = Omit<UserRecord, 'passwordHash'>;

export type AuthenticationResult =
  | { ok: true; user: UserView }
  /** unknown_user and wrong_password are for the audit log only: whoever signs in must not be able to tell them apart. */
  | { ok: false; reason: 'unknown_user' | 'wrong_password' | 'disabled' };

function view(user: UserRecord): UserView {
  const { passwordHash: _hash, ...rest } = user;
  return rest;
}


function notFound(username: string): UserError {
  return new UserError('not_found', `no user named ${printable(username)}`);
}

/** Throws UserError('invalid_username') unless `username` may be added. */
export function checkUsername(username: string): void {
  if (!USERNAME_PATTERN.test(username)) {
    throw new UserError(
      'invalid_username',
      `invalid username '${printable(username)}': use 1 to 128 letters, digits and . _ @ -, starting with a letter or digit`,
    );
  }
}

function checkPassword(password: string): void {
  const problem = passwordProblem(password);
  if (problem !== undefined) throw new UserError('weak_password', problem);
}

const unique = (values: readonly string[]): string[] => [...new Set(values)];

export class UserDirectory {
  constructor(private readonly store: UserStore) {}

  async add(user: NewUser, now = Date.now()): Promise<UserView> {
    checkUsername(user.username);
    checkPassword(user.password);
    const record: UserRecord = {
      username: user.username,
      passwordHash: await hashPassword(user.password),
      roles: unique(user.roles),
      tenant: user.tenant ?? null,
      displayName: user.displayName ?? null,
      createdAt: now,
      disabledAt: null,
      passwordChangedAt: now,
      failedLogins: 0,
      lockedUntil: null,
    };
    try {
      await this.store.insert(record);
    } catch (err) {
      if (err instanceof StoreError && err.code === 'conflict') throw new UserError('exists', `a user named ${user.username} exists already`);
      throw err;
    }
    return view(record);
  }

  /** By username. */
  async list(): Promise<UserView[]> {
    return (await this.store.list()).map(view);
  }

  async get(username: string): Promise<UserView | undefined> {
    const user = await this.store.get(username);
    return user && view(user);
  }

  /** The user can no longer sign in (revoking what they hold already is the caller's part: see revoke.ts). Keeps the first disabledAt. */
  async disable(username: string, now = Date.now()): Promise<UserView> {
    const user = await this.required(username);
    if (user.disabledAt === null) await this.store.update(username, { disabledAt: now });
    return this.require(username);
  }

  /** The user can sign in again (a lock written by an earlier version, which locked accounts, is lifted too). */
  async enable(username: string): Promise<UserView> {
    await this.required(username);
    await this.store.update(username, { disabledAt: null, failedLogins: 0, lockedUntil: null });
    return this.require(username);
  }

  /** Sets a new password (and lifts a lock written by an earlier version). */
  async resetPassword(username: string, password: string, now = Date.now()): Promise<UserView> {
    checkPassword(password);
    await this.required(username);
    const passwordHash = await hashPassword(password);
    if (!(await this.store.update(username, { passwordHash, passwordChangedAt: now, failedLogins: 0, lockedUntil: null }))) throw notFound(username);
    return this.require(username);
  }

  async setRoles(username: string, roles: string[]): Promise<UserView> {
    if (!(await this.store.update(username, { roles: unique(roles) }))) throw notFound(username);
    return this.require(username);
  }

  /**
   * Checks a sign-in. Every refusal of a password that was not verified as right takes the time of one scrypt
   * verification (an unknown user is checked against a dummy hash), so timing does not tell which usernames
   * exist. A disabled account is only reported to someone who has its password. Nothing here locks an
   * account: guessing is slowed per username and address (sign-in-throttle.ts), so that a guesser cannot
   * lock the owner out.
   */
  async authenticate(username: string, password: string): Promise<AuthenticationResult> {
    const user = USERNAME_PATTERN.test(username) ? await this.store.get(username) : undefined;
    if (!user) {
      await verifyAgainstDummy(password);
      return { ok: false, reason: 'unknown_user' };
    }
    if (!(await verifyPassword(user.passwordHash, password))) return { ok: false, reason: 'wrong_password' };
    if (user.disabledAt !== null) return { ok: false, reason: 'disabled' };
    const patch: Partial<Omit<UserRecord, 'username' | 'createdAt'>> = {};
    // Counts and locks written by versions that locked accounts: cleared once the owner is back.
    if (user.failedLogins > 0 || user.lockedUntil !== null) Object.assign(patch, { failedLogins: 0, lockedUntil: null });
    // Hashes made with older parameters are upgraded while the password is at hand.
    if (needsRehash(user.passwordHash)) patch.passwordHash = await hashPassword(password);
    if (Object.keys(patch).length > 0) await this.store.update(username, patch);
    return { ok: true, user: view({ ...user, ...patch }) };
  }

  private async required(username: string): Promise<UserRecord> {
    const user = await this.store.get(username);
    if (!user) throw notFound(username);
    return user;
  }

  /** The user, or UserError('not_found'). */
  async require(username: string): Promise<UserView> {
    return view(await this.required(username));
  }
}
