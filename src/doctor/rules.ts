import type { Rule } from './types.js';
import { audienceNotPinned, credentialsOverHttp, idpUnreachable, metricsPublic, noRateLimit, publicUrlHttp, scenarioMismatch, sharedIdentityAudience } from './rules-exposure.js';
import { auditInstanceUnnamed, auditOff, clientCertificatesUnrevocable, inlineSecret, keysNeverExpire, longTokenLifetime, storeReadable, storeUrlInline } from './rules-credentials.js';
import { stdioWithoutAffinity, unpinnedLauncher, wildcardAllow } from './rules-upstreams.js';

/**
 * Every rule `warden doctor` applies to a config, gravest first. Rules that the loader already enforces
 * (no auth beyond loopback, OAuth without TLS, a public scenario without auth) arrive as config errors and
 * are reported under their own ids by `review.ts`.
 */
export const RULES: readonly Rule[] = [
  credentialsOverHttp,
  publicUrlHttp,
  auditOff,
  idpUnreachable,
  metricsPublic,
  audienceNotPinned,
  sharedIdentityAudience,
  scenarioMismatch,
  noRateLimit,
  longTokenLifetime,
  keysNeverExpire,
  inlineSecret,
  storeReadable,
  storeUrlInline,
  clientCertificatesUnrevocable,
  auditInstanceUnnamed,
  unpinnedLauncher,
  wildcardAllow,
  stdioWithoutAffinity,
];
