import { createLocalJWKSet, createRemoteJWKSet, customFetch, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';

/**
 * A company IdP's signing keys, fetched from its JWKS with jose: cached (10 min), refetched at most once per
 * cooldown (30 s) when a token names a kid the cache does not have, so rotation at the IdP is picked up
 * without a restart while a flood of made-up kids costs one fetch per cooldown, not one per request.
 *
 * jose throws as soon as a refetch fails, even for a kid it had; here the keys last fetched keep verifying
 * what they signed while the IdP cannot be reached (up to STALE_KEYS_MAX_MS), and a kid they do not have
 * fails closed. The health of the last fetch is what /readyz reports.
 */

export interface KeyHealth {
  jwksUri: string;
  /** ok: the last fetch succeeded; unreachable: it failed (cached keys still verify); pending: never fetched yet. */
  state: 'ok' | 'unreachable' | 'pending';
  /** ISO time of the last successful fetch. */
  lastFetched?: string;
  /** Why the last fetch failed. */
  error?: string;
}

export interface IdpKeysOptions {
  cooldownMs?: number;
  cacheMaxAgeMs?: number;
  timeoutMs?: number;
  now?: () => number;
}

/** Keys fetched before an outage verify tokens for at most this long after the last successful fetch. */
export const STALE_KEYS_MAX_MS = 24 * 3_600_000;

export class IdpKeys {
  private readonly remote: ReturnType<typeof createRemoteJWKSet>;
  private readonly now: () => number;
  private lastOk: number | undefined;
  private lastError: string | undefined;
  private lastFailure = 0;
  private readonly cooldownMs: number;
  private stale: { jwks: JSONWebKeySet; set: ReturnType<typeof createLocalJWKSet> } | undefined;

  constructor(readonly jwksUri: string, options: IdpKeysOptions = {}) {
    this.now = options.now ?? Date.now;
    this.cooldownMs = options.cooldownMs ?? 30_000;
    this.remote = createRemoteJWKSet(new URL(jwksUri), {
      cooldownDuration: this.cooldownMs,
      cacheMaxAge: options.cacheMaxAgeMs ?? 600_000,
      timeoutDuration: options.timeoutMs ?? 5_000,
      [customFetch]: this.trackedFetch,
    });
  }

  /** jose's fetch, watched: every outcome updates the health /readyz shows. */
  private readonly trackedFetch = async (url: string, init: RequestInit): Promise<Response> => {
    try {
      const res = await fetch(url, init);
      if (res.status === 200) {
        this.lastOk = this.now();
        this.lastError = undefined;
      } else {
        this.failed(`${url} answered ${res.status}`);
      }
      return res;
    } catch (err) {
      const e = err as Error;
      this.failed(`${url}: ${e.name === 'TimeoutError' ? 'no answer in time' : (e.cause as Error | undefined)?.message ?? e.message}`);
      throw err;
    }
  };

  private failed(why: string): void {
    this.lastError = why;
    this.lastFailure = this.now();
  }

  /** For jwtVerify. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    // Within the cooldown after a failed fetch, jose would try again on every request once its cache is
    // stale (each waiting up to the timeout for an IdP that is down): the keys known are the answer.
    if (this.lastError !== undefined && this.now() - this.lastFailure < this.cooldownMs) return this.fromLastKnown(header, token);
    try {
      return await this.remote(header, token);
    } catch (err) {
      // A key the IdP does not have, or several, or the wrong type: a verdict on the token, not an outage.
      const outage = !(err instanceof errors.JOSEError) || err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || err.code === 'ERR_JOSE_GENERIC';
      if (!outage) throw err;
      return this.fromLastKnown(header, token);
    }
  };

  private async fromLastKnown(...[header, token]: Parameters<JWTVerifyGetKey>): Promise<Awaited<ReturnType<JWTVerifyGetKey>>> {
    const outage = `the IdP's keys could not be fetched (${this.lastError ?? 'unknown error'})`;
    const set = this.lastKnown();
    if (!set) throw new errors.JWKSNoMatchingKey(outage);
    try {
      return await set(header, token);
    } catch (err) {
      // A kid the IdP introduced since the last fetch: fail closed, and say why.
      if (err instanceof errors.JWKSNoMatchingKey) throw new errors.JWKSNoMatchingKey(`${outage}, and the token's kid is not among the keys fetched before`);
      throw err;
    }
  }

  private lastKnown(): ReturnType<typeof createLocalJWKSet> | undefined {
    if (this.lastOk === undefined || this.now() - this.lastOk > STALE_KEYS_MAX_MS) return undefined;
    const jwks = this.remote.jwks();
    if (!jwks) return undefined;
    if (this.stale?.jwks !== jwks) this.stale = { jwks, set: createLocalJWKSet(jwks) };
    return this.stale.set;
  }

  /** Fetches the keys now (start-up, the periodic refresh); resolves false instead of throwing. */
  async refresh(): Promise<boolean> {
    try {
      await this.remote.reload();
      return true;
    } catch (err) {
      this.lastError ??= (err as Error).message;
      return false;
    }
  }

  health(): KeyHealth {
    return {
      jwksUri: this.jwksUri,
      state: this.lastError !== undefined ? 'unreachable' : this.lastOk !== undefined ? 'ok' : 'pending',
      ...(this.lastOk !== undefined ? { lastFetched: new Date(this.lastOk).toISOString() } : {}),
      ...(this.lastError !== undefined ? { error: this.lastError } : {}),
    };
  }
}
