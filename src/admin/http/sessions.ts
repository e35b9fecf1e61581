import { createHash, randomBytes } from 'node:crypto';
import { MemoryPendingStore, type PendingStore } from '../../store/redis/pending.js';

/**
 * Console sign-ins. The browser holds a 256-bit random token; sessions are kept under its SHA-256, so the
 * lookup's timing says nothing about the token and neither a heap dump nor Redis holds a usable one. Each
 * session has a public `handle` (what audit records name) and its own CSRF token. Kept in this process by
 * default (a restart signs administrators out, which is the safe direction); with several instances, in
 * Redis, so that a console request may reach any of them.
 */

export interface AdminSession {
  /** Names the session in audit records and the console; not a credential. */
  handle: string;
  subject: string;
  /** Synchronizer token: forms and API calls that change something must send it back. */
  csrf: string;
  createdAt: number;
  /** When the password was last proved (sign-in or re-authentication), or the company sign-in done. */
  authAt: number;
  /** Signed in through the company IdP: it has no password here, and proves itself again at the IdP. */
  sso: boolean;
  expiresAt: number;
}

const MAX_SESSIONS = 10_000;
const digest = (token: string) => createHash('sha256').update(token).digest('base64url');
const random = () => randomBytes(32).toString('base64url');

export class AdminSessions {
  /** Where each session object handed out is kept, so that a change to it can be written back. */
  private readonly keys = new WeakMap<AdminSession, string>();

  constructor(
    private readonly ttlMs: number,
    private readonly store: PendingStore<AdminSession> = new MemoryPendingStore<AdminSession>(MAX_SESSIONS),
    private readonly now: () => number = Date.now,
  ) {}

  /** A new session for `subject`; the token goes into the cookie and nowhere else. */
  async create(subject: string, sso = false): Promise<{ token: string; session: AdminSession }> {
    const now = this.now();
    const token = random();
    const session: AdminSession = { handle: `as_${randomBytes(9).toString('base64url')}`, subject, csrf: random(), createdAt: now, authAt: now, sso, expiresAt: now + this.ttlMs };
    await this.store.put(digest(token), session, this.ttlMs);
    this.keys.set(session, digest(token));
    return { token, session };
  }

  /** The live session the token opens, if any. */
  async get(token: string | undefined): Promise<AdminSession | undefined> {
    if (!token) return undefined;
    const key = digest(token);
    const session = await this.store.get(key);
    if (!session || session.expiresAt <= this.now()) return undefined;
    this.keys.set(session, key);
    return session;
  }

  /** The password was proved again. */
  async reauthenticated(session: AdminSession): Promise<void> {
    session.authAt = this.now();
    const key = this.keys.get(session);
    if (key !== undefined) await this.store.update(key, session);
  }

  async end(token: string | undefined): Promise<void> {
    if (token) await this.store.take(digest(token));
  }
}
