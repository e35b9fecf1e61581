import type { WardenConfig } from '../config/index.js';
import type { ApiKeyRecord } from '../store/index.js';
import type { IdpProbe } from './idp-probe.js';

/**
 * critical: anyone on the network (or a stolen credential) gets in or out; `warden serve` warns at start.
 * warning: weakens a defence an auth reviewer would ask for.
 */
export type Severity = 'critical' | 'warning';

export interface Finding {
  /** Stable, for CI filters and the docs: e.g. `credentials-over-http`. */
  id: string;
  severity: Severity;
  /** The config path concerned, when there is one. */
  path?: string;
  message: string;
  /** What to change, naming the setting or the command. */
  fix: string;
}

/** What the rules look at: the validated config, the file as written (before `${ENV}`), facts from disk. */
export interface ReviewInput {
  config: WardenConfig;
  /** The file parsed without interpolation or defaults: tells an inline secret from a `${ENV}` one. */
  raw: Record<string, unknown>;
  /** Permission bits of the files holding secrets or records that exist (store, its WAL, the audit file). */
  files: { path: string; mode: number }[];
  /** API keys in use, when the store exists (it is not created by a review). */
  keys?: ApiKeyRecord[];
  /** What each company IdP answered, when they were asked (`warden doctor`; not at `warden serve` start). */
  idps?: IdpProbe[];
}

export interface Rule {
  id: string;
  severity: Severity;
  check(input: ReviewInput): Omit<Finding, 'id' | 'severity'>[];
}
