import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Upstream } from './upstreams/upstream.js';

/** MCP methods counted by name; anything else a caller sends is counted as `other` (labels stay bounded). */
const KNOWN_RPC_METHODS = new Set([
  'initialize', 'ping', 'tools/list', 'tools/call', 'resources/list', 'resources/templates/list', 'resources/read',
  'resources/subscribe', 'resources/unsubscribe', 'prompts/list', 'prompts/get', 'completion/complete',
  'logging/setLevel', 'tasks/get', 'tasks/list', 'tasks/result', 'tasks/cancel',
]);

const HTTP_METHODS = new Set(['GET', 'POST', 'DELETE', 'OPTIONS']);

export interface RequestObservation {
  /** The configured upstream, or undefined when the request never got that far. */
  upstream: string | undefined;
  httpMethod: string;
  status: number;
  seconds: number;
  decisions: readonly { method: string; decision: 'allow' | 'deny' }[];
}

/**
 * Prometheus metrics at /metrics: HTTP requests by upstream and status, their duration, MCP requests by
 * method and decision, live sessions per upstream, and the process's own metrics. Every label value comes
 * from the config or a fixed list, never unbounded from the caller.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'upstream' | 'method' | 'status'>;
  private readonly duration: Histogram<'upstream' | 'method'>;
  private readonly rpc: Counter<'upstream' | 'rpc_method' | 'decision'>;

  /**
   * `instance` (the audit instance id) labels every series as `warden_instance`, so several gateways behind one
   * load balancer are told apart; not `instance`, which Prometheus sets itself to the scraped address.
   */
  constructor(upstreams: ReadonlyMap<string, Upstream>, instance: string, shared?: { kind: string; stats: { rateLimitFallbacks: number; redisFailures(): number }; healthy(): boolean }) {
    this.registry.setDefaultLabels({ warden_instance: instance });
    collectDefaultMetrics({ register: this.registry, labels: { warden_instance: instance } });
    this.requests = new Counter({
      name: 'warden_http_requests_total',
      help: 'HTTP requests answered, by upstream, HTTP method and status',
      labelNames: ['upstream', 'method', 'status'],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: 'warden_http_request_duration_seconds',
      help: 'Time from request to the end of the answer (an SSE stream counts until it ends)',
      labelNames: ['upstream', 'method'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [this.registry],
    });
    this.rpc = new Counter({
      name: 'warden_mcp_requests_total',
      help: 'MCP (JSON-RPC) requests decided, by upstream, method and decision',
      labelNames: ['upstream', 'rpc_method', 'decision'],
      registers: [this.registry],
    });
    new Gauge({
      name: 'warden_upstream_sessions',
      help: 'Live MCP sessions (child processes) of stdio upstreams',
      labelNames: ['upstream'],
      registers: [this.registry],
      collect() {
        for (const [name, upstream] of upstreams) {
          const sessions = upstream.status().sessions;
          if (typeof sessions === 'number') this.set({ upstream: name }, sessions);
        }
      },
    });
    if (shared?.kind === 'redis') this.sharedState(shared);
  }

  /** Several instances: whether Redis state is trusted, and how often it was not there when asked. */
  private sharedState(shared: { stats: { rateLimitFallbacks: number; redisFailures(): number }; healthy(): boolean }): void {
    const counted = (name: string, help: string, read: () => number) => {
      let last = 0;
      new Counter({
        name, help, registers: [this.registry],
        collect() {
          const now = read();
          if (now > last) this.inc(now - last);
          last = now;
        },
      });
    };
    counted('warden_ratelimit_local_fallbacks_total', 'Rate-limit decisions taken by this instance\'s own buckets because Redis was unreachable', () => shared.stats.rateLimitFallbacks);
    counted('warden_redis_failures_total', 'Redis commands or connections that failed', () => shared.stats.redisFailures());
    new Gauge({
      name: 'warden_shared_state_healthy', help: '1 while the revocation feed in Redis is confirmed within redis.staleAfter, else 0 (/readyz is 503)',
      registers: [this.registry],
      collect() {
        this.set(shared.healthy() ? 1 : 0);
      },
    });
  }

  /**
   * Called for every request, so the labelled series are looked up once and kept: prom-client's own lookup
   * (validating and hashing the labels) cost more than the rest of the observation. The keys are bounded
   * as the labels are.
   */
  observe(o: RequestObservation): void {
    const upstream = o.upstream ?? '-';
    const method = HTTP_METHODS.has(o.httpMethod) ? o.httpMethod : 'other';
    const key = `${upstream} ${method}`;
    this.child(this.requestSeries, `${key} ${o.status}`, () => this.requests.labels({ upstream, method, status: String(o.status) })).inc();
    this.child(this.durationSeries, key, () => this.duration.labels({ upstream, method })).observe(o.seconds);
    for (const d of o.decisions) {
      const rpcMethod = KNOWN_RPC_METHODS.has(d.method) ? d.method : 'other';
      this.child(this.rpcSeries, `${upstream} ${rpcMethod} ${d.decision}`, () => this.rpc.labels({ upstream, rpc_method: rpcMethod, decision: d.decision })).inc();
    }
  }

  private readonly requestSeries = new Map<string, { inc(): void }>();
  private readonly durationSeries = new Map<string, { observe(v: number): void }>();
  private readonly rpcSeries = new Map<string, { inc(): void }>();

  private child<T>(series: Map<string, T>, key: string, make: () => T): T {
    let found = series.get(key);
    if (!found) series.set(key, (found = make()));
    return found;
  }
}
