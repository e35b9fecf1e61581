import { createHmac, randomBytes } from 'node:crypto';
import { sameSecret } from '../../shared/constant-time.js';

/**
 * 2026-07-28 multi round-trip requests hand the client an opaque `requestState` to echo on its retry. The
 * server may trust it more than it should (the revision asks servers to bind it to the principal, but the
 * server behind a gateway may not know the principal at all), so the gateway binds it itself: the state a
 * server returns is wrapped, for the caller who got it, with the upstream, method and target it was for and
 * a short expiry, under an HMAC (node:crypto) with a key of this process. A retry must bring it back
 * unchanged from the same caller for the same request; the server then gets its own state back.
 *
 * Several gateway instances need one key for a retry to land on another instance: with Redis configured the
 * key is derived from a secret all instances share (`store/redis/shared-secret.ts`); without it, a key of
 * this process, and a retry that reaches another instance is refused, and the client starts over.
 */
export interface StateBinding {
  owner: string;
  upstream: string;
  method: string;
  target: string;
}

const PREFIX = 'wrs1.';

export class RequestStates {
  constructor(
    private readonly ttlMs = 10 * 60_000,
    private readonly now: () => number = Date.now,
    /** The HMAC key, asked for each time: a shared one may be replaced. */
    private readonly key: () => Buffer = processKey(),
  ) {}

  seal(state: string, binding: StateBinding): string {
    const payload = Buffer.from(JSON.stringify({ s: state, ...binding, e: this.now() + this.ttlMs }), 'utf8').toString('base64url');
    return `${PREFIX}${payload}.${this.mac(payload)}`;
  }

  /** The server's own state, or why the presented one is refused. */
  open(token: string, binding: StateBinding): { ok: true; state: string } | { ok: false; why: string } {
    const dot = token.lastIndexOf('.');
    if (!token.startsWith(PREFIX) || dot <= PREFIX.length) return { ok: false, why: 'it was not issued through this gateway' };
    const payload = token.slice(PREFIX.length, dot);
    if (!sameSecret(token.slice(dot + 1), this.mac(payload))) return { ok: false, why: 'it was altered, or issued by another gateway instance' };
    const sealed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as StateBinding & { s: string; e: number };
    if (sealed.e < this.now()) return { ok: false, why: 'it expired; start the request over' };
    for (const field of ['owner', 'upstream', 'method', 'target'] as const) {
      if (sealed[field] !== binding[field]) return { ok: false, why: field === 'owner' ? 'it was issued to another caller' : `it was issued for another ${field}` };
    }
    return { ok: true, state: sealed.s };
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.key()).update(payload).digest('base64url');
  }
}

function processKey(): () => Buffer {
  const key = randomBytes(32);
  return () => key;
}
