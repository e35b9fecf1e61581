import type { IdpUse, JwtIssuerConfig } from '../config/index.js';
import type { Logger } from '../shared/log.js';
import { TrustedIssuer, type IssuerStatus } from './trusted-issuer.js';

/** Keys are fetched again this often in the background, so /readyz reflects an IdP outage and rotations land early. */
const REFRESH_INTERVAL_MS = 5 * 60_000;

/** Every IdP of `auth.jwt.issuers`, opened together at start-up, with the background refresh of their keys. */
export class TrustedIssuers {
  private readonly timer: NodeJS.Timeout;

  private constructor(readonly all: readonly TrustedIssuer[], log: Logger) {
    this.timer = setInterval(() => {
      for (const idp of all) {
        void idp.keys.refresh().then((ok) => {
          if (!ok) log.warn({ issuer: idp.issuer, error: idp.keys.health().error }, "could not refresh the IdP's keys; the keys fetched before keep verifying");
        });
      }
    }, REFRESH_INTERVAL_MS);
    this.timer.unref();
  }

  static async open(configs: readonly JwtIssuerConfig[], log: Logger): Promise<TrustedIssuers> {
    const all = await Promise.all(configs.map((c, i) => TrustedIssuer.open(c, i)));
    for (const idp of all) {
      const health = idp.keys.health();
      if (health.state !== 'ok') log.warn({ issuer: idp.issuer, error: health.error }, "the IdP's keys could not be fetched at start-up; its tokens are refused until they can");
    }
    return new TrustedIssuers(all, log);
  }

  using(use: IdpUse): TrustedIssuer[] {
    return this.all.filter((i) => i.uses(use));
  }

  status(): IssuerStatus[] {
    return this.all.map((i) => i.status());
  }

  close(): void {
    clearInterval(this.timer);
  }
}
