import { GatewayError } from '../../shared/errors.js';
import type { Principal } from '../../shared/principal.js';

/**
 * Whose share of an upstream's sessions a session counts against: the user (tenant + subject), whichever
 * OAuth client or key they use — else registering one more client would buy one more share.
 */
export function sessionHolder(principal: Principal): string {
  return JSON.stringify([principal.tenant ?? '', principal.subject]);
}

/** What admission needs to know of a live session. */
export interface SessionSlot {
  /** `sessionHolder` of the principal that initialized it. */
  readonly holder: string;
  /** Since when nothing is in flight and no GET stream is open; undefined while busy. */
  readonly idleSince: number | undefined;
}

export interface SessionLimits {
  max: number;
  perPrincipal?: number | undefined;
}

/**
 * The sessions one principal may hold. By default an eighth of `max` (at least 1): eight principals with
 * every session busy still leave the upstream room, while one person's few clients (an IDE, an agent, the
 * Inspector) fit. With `auth: none` every caller is the one principal `anonymous`, so any lower cap would
 * only be a lower `max` in disguise: the cap is `max` there.
 */
export function perPrincipalCap(limits: SessionLimits, anonymousOnly: boolean): number {
  if (anonymousOnly) return limits.max;
  return limits.perPrincipal ?? Math.max(1, Math.ceil(limits.max / 8));
}

export type Admission<S> =
  | { ok: true; evict?: S }
  | { ok: false; error: GatewayError; reason: string };

const RETRY_AFTER_SECONDS = '10';

/**
 * Whether `holder` may open one more session, and which of its own sessions must end first. Only the caller's
 * own idle sessions (least recently used first) are ever ended to make room: a principal can crowd out
 * nobody but itself, and a client that never DELETEs its sessions (most do not) does not lock itself out.
 */
export function admit<S extends SessionSlot>(sessions: Iterable<S>, holder: string, cap: number, max: number, upstream: string): Admission<S> {
  let total = 0;
  let own = 0;
  let idlest: S | undefined;
  for (const s of sessions) {
    total++;
    if (s.holder !== holder) continue;
    own++;
    if (s.idleSince !== undefined && (idlest === undefined || s.idleSince < idlest.idleSince!)) idlest = s;
  }
  if (own < cap && total < max) return { ok: true };
  if (idlest) return { ok: true, evict: idlest };
  // A cap of max (auth: none) is no limit of its own: then the upstream is simply full.
  if (own >= cap && cap < max) {
    return {
      ok: false,
      error: new GatewayError(
        'too_many_principal_sessions',
        `Too many sessions: you hold ${own} sessions on upstream '${upstream}', all busy (a request in flight or a GET stream open), and may hold ${cap} (upstreams.${upstream}.sessions.perPrincipal); end one with DELETE or retry later`,
        { 'retry-after': RETRY_AFTER_SECONDS },
      ),
      reason: `session refused: the principal holds ${own} busy sessions, its cap (upstreams.${upstream}.sessions.perPrincipal = ${cap})`,
    };
  }
  return {
    ok: false,
    error: new GatewayError(
      'too_many_sessions',
      `Too many sessions: upstream '${upstream}' runs at most ${max} (upstreams.${upstream}.sessions.max) and all are in use; retry later`,
      { 'retry-after': RETRY_AFTER_SECONDS },
    ),
    reason: `session refused: the upstream is full (upstreams.${upstream}.sessions.max = ${max}) and the principal has no idle session to end`,
  };
}
