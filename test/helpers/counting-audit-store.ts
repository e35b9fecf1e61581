import type { AuditAnchor, AuditQuery, AuditRow, AuditSeal, AuditStore } from '../../src/store/types.js';

/** The real store, counting its transactions (each `append` call is one) and their sizes. */
export class CountingAuditStore implements AuditStore {
  transactions = 0;
  batchSizes: number[] = [];
  constructor(private readonly inner: AuditStore) {}
  append(records: readonly unknown[], seal: AuditSeal): Promise<AuditRow[]> {
    this.transactions++;
    this.batchSizes.push(records.length);
    return this.inner.append(records, seal);
  }
  query(q: AuditQuery): Promise<AuditRow[]> {
    return this.inner.query(q);
  }
  scan(afterSeq: number, limit: number): Promise<AuditRow[]> {
    return this.inner.scan(afterSeq, limit);
  }
  anchor(): Promise<AuditAnchor> {
    return this.inner.anchor();
  }
  head(): Promise<AuditAnchor> {
    return this.inner.head();
  }
  prune(before: number): Promise<number> {
    return this.inner.prune(before);
  }
}
