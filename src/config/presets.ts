import type { ConfigInput } from './schema.js';

type Scenario = 'local' | 'public' | 'enterprise';

/**
 * Safe defaults per scenario, laid under what the file says (the file always wins). Local is loopback and
 * generous; the internet-facing scenarios listen on all interfaces and throttle harder.
 */
const PRESETS: Record<Scenario, Partial<ConfigInput>> = {
  local: {
    listen: { host: '127.0.0.1', port: 8787 },
  },
  // Budgets a real client and a conformance-suite run from one machine stay under (bursts of a few hundred
  // calls, tens a second), while a flood does not: failed authentications have their own, much smaller one.
  public: {
    listen: { host: '0.0.0.0', port: 8787 },
    rateLimit: {
      perIp: { requestsPerSecond: 50, burst: 300 },
      failedAuthPerIp: { requestsPerSecond: 0.5, burst: 20 },
      perPrincipal: { requestsPerSecond: 20, burst: 300 },
      perKey: { requestsPerSecond: 20, burst: 300 },
    },
    http: { maxBodyBytes: 262_144, maxConnectionsPerIp: 64 },
  },
  // Many people behind one NAT address: a wider per-IP budget, the per-user one does the work.
  // Every decision and every outcome audited; /metrics only with its token (or from this machine).
  enterprise: {
    listen: { host: '0.0.0.0', port: 8787 },
    rateLimit: {
      perIp: { requestsPerSecond: 200, burst: 1000 },
      failedAuthPerIp: { requestsPerSecond: 1, burst: 30 },
      perPrincipal: { requestsPerSecond: 20, burst: 300 },
    },
    audit: { store: true, outcomes: 'all' },
    metrics: { public: false },
  },
};

/**
 * Enterprise defaults for the embedded authorization server, laid under `auth.oauth` only when the file turns
 * it on (a preset that named `auth.oauth` would turn it on by itself): people sign in at the company IdP, not
 * with local passwords, and the gateway's tokens are short-lived, so that what the IdP changes (a role
 * removed, a user disabled) holds at the next sign-in within a working day.
 */
const ENTERPRISE_OAUTH = { accessTokenTtl: '5m', refreshTokenTtl: '8h', localPasswords: false };

/** The rules a scenario enforces (checked in load.ts), for `warden config check` to explain. */
export const SCENARIO_RULES: Record<Scenario, string[]> = {
  local: ['auth: none is accepted on loopback only'],
  public: ['authentication is required (auth: none is refused)'],
  enterprise: [
    'authentication is required (auth: none is refused)',
    "the company IdP is trusted: auth.jwt.issuers must name at least one issuer (its tokens are validated by issuer, keys and audience)",
    'every decision is audited: audit.store cannot be turned off without a file or stdout copy',
    '/metrics is protected: metrics.public is refused (a scraper sends metrics.token, or runs on this machine)',
    'with auth.oauth: access tokens live 5m and refresh tokens 8h, and local passwords are off (people sign in at the IdP: an issuer with use: [sso]), unless set',
  ],
};

export function applyScenarioDefaults(raw: Record<string, unknown>): Record<string, unknown> {
  const scenario = scenarioOf(raw);
  const merged = mergeUnder(PRESETS[scenario] as Record<string, unknown>, raw);
  const auth = merged.auth;
  if (scenario === 'enterprise' && isPlainObject(auth) && (auth.oauth === true || isPlainObject(auth.oauth))) {
    merged.auth = { ...auth, oauth: mergeUnder(ENTERPRISE_OAUTH, auth.oauth === true ? {} : auth.oauth) };
  }
  return merged;
}

/** The scenario's defaults that the file did not override, as `path = value` lines (what `warden config check` shows). */
export function scenarioDefaultsApplied(raw: Record<string, unknown>): string[] {
  const scenario = scenarioOf(raw);
  const lines: string[] = [];
  const walk = (preset: Record<string, unknown>, file: unknown, path: string) => {
    for (const [key, value] of Object.entries(preset)) {
      const own = isPlainObject(file) ? file[key] : undefined;
      if (isPlainObject(value) && (own === undefined || isPlainObject(own))) walk(value, own, `${path}${key}.`);
      else if (own === undefined) lines.push(`${path}${key} = ${JSON.stringify(value)}`);
    }
  };
  walk(PRESETS[scenario] as Record<string, unknown>, raw, '');
  const auth = raw.auth;
  if (scenario === 'enterprise' && isPlainObject(auth) && (auth.oauth === true || isPlainObject(auth.oauth))) {
    walk(ENTERPRISE_OAUTH, auth.oauth === true ? {} : auth.oauth, 'auth.oauth.');
  }
  return lines;
}

function scenarioOf(raw: Record<string, unknown>): Scenario {
  return (typeof raw.scenario === 'string' && raw.scenario in PRESETS ? raw.scenario : 'local') as Scenario;
}

/** `over` wins; plain objects merge key by key; arrays and scalars are replaced whole. */
function mergeUnder(under: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...under };
  for (const [key, value] of Object.entries(over)) {
    const base = out[key];
    out[key] = isPlainObject(base) && isPlainObject(value) ? mergeUnder(base, value) : value;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
