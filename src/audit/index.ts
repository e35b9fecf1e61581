export { toAuditRecord, type AuditRecord, type AuditDecision } from './record.js';
export { AuditTrail, JsonlFileSink, LogSink, type AuditSink } from './sinks.js';
