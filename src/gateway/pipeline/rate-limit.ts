import { GatewayError } from '../../shared/errors.js';
import type { RateLimiter } from '../../ratelimit/index.js';
import { denials, Refusal, type Identified } from './stage.js';

export interface Limiters {
  ip?: RateLimiter;
  /** Failed authentications per IP, spent by the authenticate step only. */
  failedAuth?: RateLimiter;
  principal?: RateLimiter;
  key?: RateLimiter;
}

/** Step 5: per client IP, per principal (tenant + subject) and per credential; 429 with Retry-After. */
export function rateLimit({ limiters }: { limiters: Limiters }): (call: Identified) => Promise<void> {
  return async (call) => {
    const refuse = (whose: string, retryAfterSeconds: number, reason: string) => {
      throw new Refusal(tooMany(whose, retryAfterSeconds), denials(call, `rate limited: ${reason}`));
    };
    const ip = await limiters.ip?.take(call.ip ?? '');
    if (ip && !ip.ok) refuse(`from ${call.ip}`, ip.retryAfterSeconds, 'per IP');
    const { principal } = call;
    if (principal.credential.kind === 'none') return;
    // The issuer too: a company IdP's `alice` is not the local user `alice`.
    const user = await limiters.principal?.take(`${principal.issuer ?? ''}\u0000${principal.tenant ?? ''}\u0000${principal.subject}`);
    if (user && !user.ok) refuse(`for ${principal.subject}`, user.retryAfterSeconds, 'per principal');
    const key = await limiters.key?.take(`${principal.credential.kind}\u0000${principal.credential.id}`);
    if (key && !key.ok) refuse(`for credential ${principal.credential.id}`, key.retryAfterSeconds, 'per credential');
  };
}

export function tooMany(whose: string, retryAfterSeconds: number): GatewayError {
  return new GatewayError('rate_limited', `Too many requests ${whose}; retry in ${retryAfterSeconds} s`, { 'retry-after': String(retryAfterSeconds) });
}
