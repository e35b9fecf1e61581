import { GlobSet } from '../shared/glob.js';
import type { JSONRPCMessage } from '../shared/jsonrpc.js';
import { filterListAnswer, filterListResult } from './list-filter.js';
import { LIST_METHODS, type McpTarget, type TargetKind } from './targets.js';

export interface AllowListSpec {
  tools?: readonly string[];
  resources?: readonly string[];
  prompts?: readonly string[];
}

export interface AllowDecision {
  allowed: boolean;
  reason: string;
}

const KIND_FIELD: Record<TargetKind, keyof AllowListSpec> = { tool: 'tools', resource: 'resources', prompt: 'prompts' };

/**
 * A per-upstream allow-list of tools, resources and prompts. A kind that is absent from the spec is not
 * restricted; a kind that is present allows only what matches its patterns (so an empty list allows none). The same decision serves calls and lists, so a caller never
 * sees a tool it may not call, nor may call one it does not see.
 */
export class AllowList {
  private readonly sets: Partial<Record<TargetKind, GlobSet>> = {};
  /** `permits` bound once, for the shared list walk. */
  private readonly permitsTarget = (target: McpTarget): boolean => this.permits(target);

  constructor(spec: AllowListSpec = {}) {
    for (const kind of Object.keys(KIND_FIELD) as TargetKind[]) {
      const patterns = spec[KIND_FIELD[kind]];
      if (patterns !== undefined) this.sets[kind] = new GlobSet(patterns);
    }
  }

  /** True when some kind is restricted, i.e. list answers need filtering. */
  get restricts(): boolean {
    return Object.keys(this.sets).length > 0;
  }

  restrictsKind(kind: TargetKind): boolean {
    return this.sets[kind] !== undefined;
  }

  /** False when the allow-list restricts `kind` to nothing at all. */
  allowsAnyOf(kind: TargetKind): boolean {
    const set = this.sets[kind];
    return set === undefined || set.sources.length > 0;
  }

  permits(target: McpTarget): boolean {
    const set = this.sets[target.kind];
    return set === undefined || set.matches(target.name);
  }

  /** The decision about a request's target, with the reason an audit record gives for it. */
  decide(target: McpTarget | undefined): AllowDecision {
    if (!target) return { allowed: true, reason: 'no target' };
    if (!this.restrictsKind(target.kind)) return { allowed: true, reason: 'unrestricted' };
    return this.permits(target) ? { allowed: true, reason: 'allow-list' } : { allowed: false, reason: `${target.kind} not on the allow-list` };
  }

  /** True when the answer to `method` must pass through `filterListResult`. */
  filtersList(method: string): boolean {
    const list = LIST_METHODS[method];
    return list !== undefined && this.restrictsKind(list.kind);
  }

  /** A JSON-RPC answer to a `method` request, with its list filtered; error answers pass unchanged. */
  filterListAnswer(method: string, answer: JSONRPCMessage): JSONRPCMessage {
    return this.filtersList(method) ? filterListAnswer(method, answer, this.permitsTarget) : answer;
  }

  /** The result of a list method with what is not allowed taken out. Other results pass unchanged. */
  filterListResult(method: string, result: unknown): unknown {
    // An unrestricted kind is not walked at all, so its list reaches the caller exactly as the server sent it.
    return this.filtersList(method) ? filterListResult(method, result, this.permitsTarget) : result;
  }
}
