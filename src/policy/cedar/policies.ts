import type { AuthorizationConfig } from '../../config/index.js';
import type { Logger } from '../../shared/log.js';
import type { Principal } from '../../shared/principal.js';
import type { McpTarget, TargetKind } from '../targets.js';
import { AuthZenClient } from './authzen.js';
import type { PolicyDecisionPoint, PolicyVerdict } from './decision.js';
import { CedarEngine } from './engine.js';
import { loadPolicySet, type PolicySources } from './policy-set.js';
import { PolicyReloader } from './reloader.js';
import { actionOf, delegation, policyPrincipal, type PolicyRequest } from './request.js';
import { policyTime } from './time.js';

/** What a decision's context needs from the transport. */
export interface CallFacts {
  ip?: string;
  transport: 'http' | 'stdio';
}

const ITEM_ACTION: Record<TargetKind, 'call_tool' | 'read_resource' | 'get_prompt'> = { tool: 'call_tool', resource: 'read_resource', prompt: 'get_prompt' };

/**
 * The policy layer the pipeline calls after the scopes: the local Cedar engine (with its reloader) and/or a
 * remote AuthZEN PDP, asked in that order; every one must allow. It turns MCP requests into policy requests
 * and knows nothing of HTTP.
 */
export class Policies {
  readonly points: PolicyDecisionPoint[];

  constructor(
    readonly engine: CedarEngine | undefined,
    readonly remote: AuthZenClient | undefined,
    private readonly reloader: PolicyReloader | undefined,
    private readonly timeZone: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.points = [];
    if (engine) this.points.push(engine);
    if (remote) this.points.push(remote);
  }

  /** From `authorization.cedar` / `authorization.authzen`; undefined when neither is configured. Throws `PolicyError` when the set does not load. */
  static open(config: AuthorizationConfig, log: Logger): Policies | undefined {
    const { cedar, authzen } = config;
    if (!cedar && !authzen) return undefined;
    let engine: CedarEngine | undefined;
    let reloader: PolicyReloader | undefined;
    if (cedar) {
      const sources = policySources(cedar);
      engine = new CedarEngine(loadPolicySet(sources), { cacheSize: cedar.cacheSize });
      if (cedar.reload) reloader = new PolicyReloader(engine, sources, log).start();
    }
    const remote = authzen ? new AuthZenClient({ url: authzen.url, timeoutMs: authzen.timeout, ...(authzen.token ? { token: authzen.token } : {}) }) : undefined;
    return new Policies(engine, remote, reloader, cedar?.timeZone ?? 'UTC');
  }

  /** The policy request for one JSON-RPC request, or undefined when policies do not decide its method (initialize, ping). */
  requestFor(principal: Principal, upstream: string, method: string, target: McpTarget | undefined, params: unknown, facts: CallFacts): PolicyRequest | undefined {
    const action = actionOf(method, target);
    if (!action) return undefined;
    const args = method === 'tools/call' || method === 'prompts/get' ? ((params ?? {}) as { arguments?: unknown }).arguments ?? {} : undefined;
    return {
      principal: policyPrincipal(principal),
      action,
      resource: { upstream, ...(target ? { target } : {}) },
      context: {
        ...(args !== undefined ? { arguments: args } : {}),
        time: policyTime(this.now(), this.timeZone),
        ...(facts.ip !== undefined ? { ip: facts.ip } : {}),
        ...delegation(principal),
        transport: facts.transport,
        listing: false,
      },
    };
  }

  /** Every decision point in turn; the first deny ends it. The verdicts asked, for the audit record. */
  async decide(request: PolicyRequest): Promise<PolicyVerdict[]> {
    const verdicts: PolicyVerdict[] = [];
    for (const point of this.points) {
      const verdict = await point.decide(request);
      verdicts.push(verdict);
      if (!verdict.allowed) break;
    }
    return verdicts;
  }

  /**
   * Whether list items may be shown to `principal`, by the local engine (per item, through its decision cache:
   * see docs/policies.md for why not partial evaluation); undefined when no local engine filters lists.
   */
  listPermits(principal: Principal, upstream: string, facts: CallFacts): ((target: McpTarget) => boolean) | undefined {
    const engine = this.engine;
    if (!engine) return undefined;
    const base = { principal: policyPrincipal(principal), time: policyTime(this.now(), this.timeZone), ...delegation(principal) };
    return (target) => engine.permitsItem({
      principal: base.principal,
      action: ITEM_ACTION[target.kind],
      resource: { upstream, target },
      context: {
        time: base.time,
        ...(facts.ip !== undefined ? { ip: facts.ip } : {}),
        ...(base.actor ? { actor: base.actor } : {}),
        actors: base.actors,
        transport: facts.transport,
        listing: true,
      },
    });
  }

  /** For /readyz (loopback only): the set in force and whether the files on disk were refused. */
  status(): Record<string, unknown> {
    return {
      ...(this.engine ? { cedar: { ...this.engine.status(), ...this.reloader?.status() } } : {}),
      ...(this.remote ? { authzen: this.remote.status() } : {}),
    };
  }

  /** Loads the files again now (also done on change when `reload` is on); true when the new set is in force. */
  reload(): boolean {
    return this.reloader?.reload() ?? false;
  }

  close(): void {
    this.reloader?.close();
  }
}

export function policySources(cedar: NonNullable<AuthorizationConfig['cedar']>): PolicySources {
  return { policies: cedar.policies, ...(cedar.schema ? { schema: cedar.schema } : {}), ...(cedar.entities ? { entities: cedar.entities } : {}) };
}
