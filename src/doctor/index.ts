export type { Finding, Severity, Rule, ReviewInput } from './types.js';
export { RULES } from './rules.js';
export { reviewConfig, configErrorFindings, type Check, type Review } from './review.js';
export { gatherFacts } from './facts.js';
export { probeGateway, type ProbeResult } from './probe.js';
