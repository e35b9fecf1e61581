import { createHash, randomBytes } from 'node:crypto';

/**
 * Console sign-ins, in memory (per process: a restart signs administrators out, which is the safe direction).
 * The browser holds a 256-bit random token; the map is keyed by its SHA-256, so the lookup's timing says
 * nothing about the token and a heap dump holds no usable one. Each session has a public `handle` (what audit
 * records name) and its own CSRF token.
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
  private readonly byDigest = new Map<string, AdminSession>();

  constructor(private readonly ttlMs: number, private readonly now: () => number = Date.now) {}

  /** A new session for `subject`; the token goes into the cookie and nowhere else. */
  create(subject: string, sso = false): { token: string; session: AdminSession } {
    const now = this.now();
    const token = random();
    const session: AdminSession = { handle: `as_${randomBytes(9).toString('base64url')}`, subject, csrf: random(), createdAt: now, authAt: now, sso, expiresAt: now + this.ttlMs };
    this.byDigest.set(digest(token), session);
    // Oldest first: Map order is insertion order.
    if (this.byDigest.size > MAX_SESSIONS) this.byDigest.delete(this.byDigest.keys().next().value!);
    return { token, session };
  }

  /** The live session the token opens, if any. */
  get(token: string | undefined): AdminSession | undefined {
    if (!token) return undefined;
    const key = digest(token);
    const session = this.byDigest.get(key);
    if (session && session.expiresAt <= this.now()) {
      this.byDigest.delete(key);
      return undefined;
    }
    return session;
  }

  /** The password was proved again. */
  reauthenticated(session: AdminSession): void {
    session.authAt = this.now();
  }

  end(token: string | undefined): void {
    if (token) this.byDigest.delete(digest(token));
  }

  /** Ends every session of `subject` (disabled, or no longer an administrator). */
  endAllOf(subject: string): void {
    for (const [key, s] of this.byDigest) if (s.subject === subject) this.byDigest.delete(key);
  }
}
