import type { WardenConfig } from '../config/index.js';
import { discoverIssuer } from '../resource/issuer-discovery.js';

/** What a company IdP of the config answered: nothing wrong, or what is. */
export interface IdpProbe {
  issuer: string;
  problem?: string;
}

const TIMEOUT_MS = 5_000;

/**
 * Asks each configured IdP what `warden serve` will ask at start-up: its discovery document (unless
 * `jwksUri` is given) and its JWKS, which must hold at least one key. Read-only, bounded in time.
 */
export async function probeIdps(config: WardenConfig): Promise<IdpProbe[]> {
  if (config.auth === 'none' || !config.auth.jwt) return [];
  const timed: typeof fetch = (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  return Promise.all(config.auth.jwt.issuers.map(async ({ issuer, jwksUri }): Promise<IdpProbe> => {
    try {
      const jwks = jwksUri ?? (await discoverIssuer(issuer, timed)).jwks_uri;
      if (!jwks) return { issuer, problem: 'its discovery document names no jwks_uri' };
      const res = await timed(jwks, { headers: { accept: 'application/json' } });
      if (!res.ok) return { issuer, problem: `its JWKS (${jwks}) answered HTTP ${res.status}` };
      const body = (await res.json().catch(() => undefined)) as { keys?: unknown } | undefined;
      if (!Array.isArray(body?.keys) || body.keys.length === 0) return { issuer, problem: `its JWKS (${jwks}) holds no keys` };
      return { issuer };
    } catch (err) {
      return { issuer, problem: (err as Error).message.slice(0, 300) };
    }
  }));
}
