export { Policies, policySources, type CallFacts } from './policies.js';
export { CedarEngine, type CedarEngineOptions } from './engine.js';
export { loadPolicySet, BUILTIN_SCHEMA, type LoadedPolicySet, type PolicyInfo, type PolicySources } from './policy-set.js';
export { PolicyError, type PolicyErrorCode } from './errors.js';
export { verdictReason, type PolicyDecisionPoint, type PolicyVerdict, type PolicyRef } from './decision.js';
export { AuthZenClient, authZenAnswer, fromAuthZen, toAuthZen, EVALUATION_PATH } from './authzen.js';
export { actionOf, policyPrincipal, principalType, POLICY_ACTIONS, type PolicyRequest, type PolicyAction, type PolicyContext } from './request.js';
export { policyTime } from './time.js';
export { readPolicyTests, runPolicyTests, caseRequest, type PolicyTestCase, type PolicyTestResult, type PolicyTestFile } from './test-cases.js';
