export { AllowList, type AllowListSpec, type AllowDecision } from './allow-list.js';
export { normaliseResourceUri, type NormalisedUri } from './resource-uri.js';
export { targetOf, forwardTarget, resourceTarget, LIST_METHODS, type McpTarget, type TargetKind } from './targets.js';
export { filterListAnswer, filterListResult, type Permits } from './list-filter.js';
export { ScopePolicy, type ScopeSpec, type ScopePolicySpec, type ScopeDecision, type Grant } from './scopes.js';
