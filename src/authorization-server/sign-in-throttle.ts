/**
 * Slows password guessing without locking anyone out (issue 13, OWASP Authentication Cheat Sheet "Account
 * Lockout", NIST SP 800-63B §5.2.2).
 *
 * Failures are counted per (username as typed, client address): from the `after`-th on, each failure makes
 * that pair wait `initial`, then twice as long, up to `max`. Someone guessing alice's password from one
 * address is slowed to one try per `max`; alice herself, on another address, is not affected at all. A
 * second, higher count per username (any address) slows guessing spread over many addresses, and never
 * refuses more than `max` of its own at a time.
 *
 * Both counts are kept for whatever username was typed, whether or not such a user exists, so the waits (and
 * their absence) tell nothing about which usernames exist. Counts live in memory, bounded (least recently
 * used forgotten first), per process; with several instances, in Redis (`redis-sign-in-throttle.ts`).
 */

export interface BackoffPolicy {
  /** The failure that starts the waits (1: the first one already does). */
  after: number;
  /** The first wait, in ms; each further failure doubles it. */
  initial: number;
  /** The longest wait, in ms. */
  max: number;
}

export interface SignInThrottleOptions {
  perAddress: BackoffPolicy;
  /** Across every address; false: no such ceiling. */
  perAccount: BackoffPolicy | false;
  /** Entries kept per count at most. */
  maxKeys?: number;
  /** Failures older than this (since the last one) are forgotten. */
  forgetAfterMs?: number;
  now?: () => number;
}

export type ThrottleVerdict = { ok: true } | { ok: false; retryAfterSeconds: number; scope: 'address' | 'account' };

/** What sign-in pages ask: this process's counts answer at once, shared ones (Redis) with a promise. */
export interface SignInGuard {
  /** Whether `username` may be tried from `address` now; an allowed attempt counts as a failure until `succeeded`. */
  attempt(username: string, address: string): ThrottleVerdict | Promise<ThrottleVerdict>;
  succeeded(username: string, address: string): void | Promise<void>;
}

interface Count {
  failures: number;
  /** Until when the next attempt must wait (0: it need not). */
  waitUntil: number;
  lastFailureAt: number;
}

const DAY_MS = 86_400_000;

/** A bounded map of failure counts with exponential back-off. */
class BackoffCounts {
  private readonly counts = new Map<string, Count>();

  constructor(private readonly policy: BackoffPolicy, private readonly maxKeys: number, private readonly forgetAfterMs: number) {}

  /** Milliseconds `key` must still wait, 0 when it may try now. */
  wait(key: string, now: number): number {
    const count = this.live(key, now);
    return count ? Math.max(0, count.waitUntil - now) : 0;
  }

  fail(key: string, now: number): void {
    const count = this.live(key, now) ?? { failures: 0, waitUntil: 0, lastFailureAt: now };
    count.failures += 1;
    count.lastFailureAt = now;
    count.waitUntil = this.waitAfter(count.failures, now);
    this.counts.delete(key); // re-inserted last: Map order is least recently used first
    if (this.counts.size >= this.maxKeys) this.counts.delete(this.counts.keys().next().value as string);
    this.counts.set(key, count);
  }

  /** Takes back one failure counted in advance (the attempt turned out not to be a guess). */
  undo(key: string, now: number): void {
    const count = this.live(key, now);
    if (!count) return;
    count.failures = Math.max(0, count.failures - 1);
    count.waitUntil = this.waitAfter(count.failures, count.lastFailureAt);
  }

  private waitAfter(failures: number, at: number): number {
    const over = failures - this.policy.after;
    // 2^over overflows to Infinity long after the cap is reached; min() keeps it at max.
    return over >= 0 ? at + Math.min(this.policy.max, this.policy.initial * 2 ** over) : 0;
  }

  clear(key: string): void {
    this.counts.delete(key);
  }

  private live(key: string, now: number): Count | undefined {
    const count = this.counts.get(key);
    if (count && now - count.lastFailureAt >= this.forgetAfterMs) {
      this.counts.delete(key);
      return undefined;
    }
    return count;
  }
}

export class SignInThrottle implements SignInGuard {
  private readonly pairs: BackoffCounts;
  private readonly accounts: BackoffCounts | undefined;
  private readonly now: () => number;

  constructor(options: SignInThrottleOptions) {
    const maxKeys = options.maxKeys ?? 100_000;
    const forget = options.forgetAfterMs ?? DAY_MS;
    this.pairs = new BackoffCounts(options.perAddress, maxKeys, forget);
    this.accounts = options.perAccount ? new BackoffCounts(options.perAccount, maxKeys, forget) : undefined;
    this.now = options.now ?? (() => Date.now());
  }

  /**
   * Whether `username` may be tried from `address` now, asked before the password is looked at. An allowed
   * attempt is counted as a failure at once, so that parallel attempts cannot all pass before the first
   * verification ends; `succeeded` takes it back when the password was right.
   */
  attempt(username: string, address: string): ThrottleVerdict {
    const now = this.now();
    const pair = this.pairs.wait(pairKey(username, address), now);
    const account = this.accounts?.wait(username, now) ?? 0;
    if (pair > 0 || account > 0) {
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(Math.max(pair, account) / 1000)), scope: pair >= account ? 'address' : 'account' };
    }
    this.pairs.fail(pairKey(username, address), now);
    this.accounts?.fail(username, now);
    return { ok: true };
  }

  /**
   * The right password (also for a disabled account: not a guess). This address starts afresh for this
   * user; the per-username count only loses this attempt, so a guesser cannot reset it by signing in as
   * themselves.
   */
  succeeded(username: string, address: string): void {
    this.pairs.clear(pairKey(username, address));
    this.accounts?.undo(username, this.now());
  }
}

const pairKey = (username: string, address: string) => JSON.stringify([username, address]);
