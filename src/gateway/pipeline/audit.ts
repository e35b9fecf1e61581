import type { Logger } from '../../shared/log.js';
import { GatewayError } from '../../shared/errors.js';
import { StoreError } from '../../store/types.js';
import { toAuditRecord, type AuditDecision, type AuditSink } from '../../audit/index.js';

export interface AuditParts {
  audit: AuditSink;
  /** Names this gateway in audit records. */
  instance: string;
  log: Logger;
}

/**
 * Step 6: commits one record per decision before anything is forwarded, and the records of a refusal before
 * it is answered. A record that cannot be written refuses the request (fail closed).
 */
export function auditStep({ audit, instance, log }: AuditParts): (decisions: readonly AuditDecision[], requestId: string) => Promise<void> {
  return async (decisions, requestId) => {
    try {
      // All at once: with group commit they share one transaction.
      const now = new Date();
      await Promise.all(decisions.map((d) => audit.write(toAuditRecord(d, instance, now))));
    } catch (err) {
      log.error({ requestId, err: (err as Error).message }, 'audit write failed; refusing the request');
      // A store that does not answer is a passing state: the App answers it as every other such failure (503).
      if (err instanceof StoreError && err.code === 'unavailable') throw err;
      throw new GatewayError('internal_error', 'The audit log cannot be written, so the request was refused; see the gateway log');
    }
  };
}
