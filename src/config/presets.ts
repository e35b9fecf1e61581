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
  public: {
    listen: { host: '0.0.0.0', port: 8787 },
    rateLimit: {
      perIp: { requestsPerSecond: 10, burst: 20 },
      perPrincipal: { requestsPerSecond: 20, burst: 40 },
      perKey: { requestsPerSecond: 10, burst: 20 },
    },
    http: { maxBodyBytes: 262_144 },
  },
  enterprise: {
    listen: { host: '0.0.0.0', port: 8787 },
    rateLimit: { perIp: { requestsPerSecond: 50, burst: 100 } },
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
