import type { AuditAnchor, AuditChainInfo, AuditQuery, AuditRow, AuditSeal, AuditStore } from '../../src/store/types.js';

/** The real store, counting its transactions (each `append` call is one) and their sizes. */
export class CountingAuditStore implements AuditStore {
  transactions = 0;
  batchSizes: number[] = [];
  constructor(private readonly inner: AuditStore) {}
  append(instance: string, records: readonly unknown[], seal: AuditSeal): Promise<AuditRow[]> {
    this.transactions++;
    this.batchSizes.push(records.length);
    return this.inner.append(instance, records, seal);
  }
  query(q: AuditQuery): Promise<AuditRow[]> {
    return this.inner.query(q);
  }
  scan(instance: string, afterSeq: number, limit: number): Promise<AuditRow[]> {
    return this.inner.scan(instance, afterSeq, limit);
  }
  chains(): Promise<AuditChainInfo[]> {
    return this.inner.chains();
  }
  anchor(instance: string): Promise<AuditAnchor> {
    return this.inner.anchor(instance);
  }
  head(instance: string): Promise<AuditAnchor> {
    return this.inner.head(instance);
  }
  prune(before: number): Promise<number> {
    return this.inner.prune(before);
  }
}
