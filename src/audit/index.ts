export { toAuditRecord, type AuditRecord, type AuditDecision, type PolicyExplanation, type AuditEvent, type AdminTargetKind, type ChainedAuditRecord } from './record.js';
export { AuditTrail, JsonlFileSink, LogSink, StdoutSink, auditTrailFor, type AuditSink } from './sinks.js';
export { AuditMaintenance } from './maintenance.js';
export { AuditChainWriter } from './chain-writer.js';
export { canonicalJson, sealAuditRecord, parseAuditRow, GENESIS_HASH } from './chain.js';
export { verifyAuditChain, verifyAuditChains, type VerifyResult, type VerifyOptions, type VerifyAllResult, type VerifyAllOptions, type ChainVerifyResult } from './verify.js';
export { redactArguments, type RedactionOptions } from './redact.js';
export { adminRecord, auditInstance, oauthRecord, type AdminActor, type AdminChange, type OAuthEvent } from './admin.js';
