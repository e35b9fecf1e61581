import { createLogger, type Logger } from '../shared/log.js';
import type { WardenConfig } from '../config/index.js';
import { AllowList, ScopePolicy } from '../policy/index.js';
import type { Policies } from '../policy/cedar/policies.js';
import { openStore, type Store } from '../store/index.js';
import { readUpstreamTls } from './tls.js';
import { ApiKeys } from '../credentials/index.js';
import { auditInstance, auditTrailFor, redactArguments, type AuditSink } from '../audit/index.js';
import { HttpUpstream } from './upstreams/http.js';
import { StdioUpstream } from './upstreams/stdio.js';
import type { Upstream } from './upstreams/upstream.js';
import { GatewayMetrics } from './metrics.js';
import type { Limiters } from './pipeline/index.js';
import { openSharedState, type SharedState } from './shared-state.js';
import { SharedSessions } from './upstreams/shared-sessions.js';

export interface GatewayOptions {
  /** Where the gateway logs; default: JSON lines on stderr at the config's `log.level`. */
  log?: Logger;
  /** Replaces the sinks the config names (tests, embedding). */
  audit?: AuditSink;
  /** Replaces the store the config names (tests, embedding); the gateway does not close it. */
  store?: Store;
}

/** What the config turns on, built before the gateway knows its own URL. */
export interface GatewayParts {
  config: WardenConfig;
  log: Logger;
  /** Open when authentication or the audit chain needs it. */
  store: Store | undefined;
  ownsStore: boolean;
  audit: AuditSink;
  /** True when the options replaced the configured audit sinks (then the chain's head is not published). */
  auditReplaced: boolean;
  /** Names this gateway in audit records. */
  instance: string;
  upstreams: ReadonlyMap<string, Upstream>;
  allowLists: ReadonlyMap<string, AllowList>;
  /** Per-tool authorization by scope; absent with `auth: none`. */
  scopes: ScopePolicy | undefined;
  apiKeys: ApiKeys | undefined;
  limiters: Limiters;
  metrics: GatewayMetrics | undefined;
  recordArguments: ((args: unknown) => unknown) | undefined;
  /** Cedar and/or a remote AuthZEN PDP, after the scopes; absent when neither is configured. */
  policies: Policies | undefined;
  /** What instances share: in this process by default, in Redis with store.redis. */
  shared: SharedState;
}

export async function openParts(config: WardenConfig, options: GatewayOptions): Promise<GatewayParts> {
  const log = options.log ?? createLogger({ level: config.log.level });
  // First: certificate files and a policy set that do not load stop the start before anything is opened.
  const upstreamTls = new Map(Object.entries(config.upstreams).flatMap(([name, u]) => (u.tls ? [[name, readUpstreamTls(name, u.tls)] as const] : [])));
  const policies = await openPolicies(config, log);
  const authOn = config.auth !== 'none';
  // The store holds keys, signing keys and the audit chain: opened when one of them is in use.
  const needsStore = authOn || (config.audit.store && !options.audit);
  let store: Store | undefined;
  let shared: SharedState;
  try {
    // Redis first: unreachable, it stops start-up before the store is opened.
    shared = await openSharedState(config, log);
  } catch (err) {
    policies?.close(); // its file watchers
    throw err;
  }
  try {
    store = needsStore ? options.store ?? (await openStore(config, { changeFeed: shared.changes })) : undefined;
  } catch (err) {
    policies?.close();
    await shared.close();
    throw err;
  }
  const instance = auditInstance(config.audit.instance);
  const upstreams = new Map<string, Upstream>();
  const allowLists = new Map<string, AllowList>();
  for (const [name, u] of Object.entries(config.upstreams)) {
    const directory = shared.sessionDirectory(name, u.sessions.idleTimeout);
    const sessions = directory && new SharedSessions(directory, instance, name, u.url ? 'http' : 'stdio', u.sessions.idleTimeout, log);
    upstreams.set(name, u.url
      ? new HttpUpstream(name, { ...u, url: u.url }, log, upstreamTls.get(name), sessions)
      : new StdioUpstream(name, { ...u, command: u.command! }, log, { anonymousOnly: !authOn, shared: sessions }));
    if (u.allow) allowLists.set(name, new AllowList(u.allow));
  }
  const { redactKeys, maxBytes, enabled } = config.audit.arguments;
  return {
    config,
    log,
    store,
    ownsStore: store !== undefined && !options.store,
    audit: options.audit ?? auditTrailFor(config.audit, store, log),
    auditReplaced: options.audit !== undefined,
    instance,
    upstreams,
    allowLists,
    scopes: authOn ? new ScopePolicy(config.authorization) : undefined,
    apiKeys: config.auth !== 'none' && config.auth.apiKeys && store ? new ApiKeys(store.apiKeys, {
      onTouchError: (err, keyId) => log.warn({ keyId, err: (err as Error).message }, 'could not record when an API key was last used'),
    }) : undefined,
    limiters: buildLimiters(config, shared),
    metrics: config.metrics.enabled ? new GatewayMetrics(upstreams, instance, shared) : undefined,
    recordArguments: enabled ? (args) => redactArguments(args, { keys: redactKeys, maxBytes }) : undefined,
    policies,
    shared,
  };
}

/** Loaded only when configured: compiling Cedar's WebAssembly module costs a few hundred ms at start-up. */
async function openPolicies(config: WardenConfig, log: Logger): Promise<Policies | undefined> {
  if (!config.authorization.cedar && !config.authorization.authzen) return undefined;
  const { Policies, PolicyError } = await import('../policy/cedar/index.js');
  try {
    return Policies.open(config.authorization, log);
  } catch (err) {
    if (!(err instanceof PolicyError)) throw err;
    throw new Error(`authorization.cedar: the policy set does not load, fix it and check with \`warden policy check\`:\n  ${err.problems.join('\n  ')}`);
  }
}

/** The gateway's limits, shared by all instances with Redis (keyed by limit name there). */
function buildLimiters({ rateLimit }: WardenConfig, shared: SharedState): Limiters {
  const make = (name: string, l: WardenConfig['rateLimit']['perIp']) => (l ? shared.limiter(name, l) : undefined);
  const all = {
    ip: make('ip', rateLimit.perIp), failedAuth: make('failed-auth', rateLimit.failedAuthPerIp),
    principal: make('principal', rateLimit.perPrincipal), key: make('key', rateLimit.perKey),
  };
  return Object.fromEntries(Object.entries(all).filter(([, limiter]) => limiter)) as Limiters;
}
