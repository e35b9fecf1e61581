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
  enterprise: {
    listen: { host: '0.0.0.0', port: 8787 },
    rateLimit: {
      perIp: { requestsPerSecond: 200, burst: 1000 },
      failedAuthPerIp: { requestsPerSecond: 1, burst: 30 },
      perPrincipal: { requestsPerSecond: 20, burst: 300 },
    },
  },
};

export function applyScenarioDefaults(raw: Record<string, unknown>): Record<string, unknown> {
  const scenario = (typeof raw.scenario === 'string' && raw.scenario in PRESETS ? raw.scenario : 'local') as Scenario;
  return mergeUnder(PRESETS[scenario] as Record<string, unknown>, raw);
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
