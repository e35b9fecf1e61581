export { AllowList, type AllowListSpec, type AllowDecision } from './allow-list.js';
export { targetOf, LIST_METHODS, type McpTarget, type TargetKind } from './targets.js';
