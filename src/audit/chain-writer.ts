import type { AuditStore } from '../store/types.js';
import { AuditChainError, PreparedAuditRecord, sealAuditRecord } from './chain.js';
import type { AuditRecord, ChainedAuditRecord } from './record.js';

export interface AuditChainWriterOptions {
  /**
   * Commit the records appended in the same event-loop turn together, in one transaction (default true).
   * A commit costs about the same for one record as for hundreds, and with synchronous=FULL it waits for the
   * disk, so under load group commit multiplies throughput; an idle gateway pays one setImmediate of delay.
   */
  groupCommit?: boolean;
  /** Most records in one transaction (default 512), which bounds how long one commit holds the file's lock. */
  maxBatch?: number;
  /** How long a deferred record may wait for the next commit before it is committed on its own (default 20 ms). */
  deferMs?: number;
}

interface Pending {
  prepared: PreparedAuditRecord;
  deferred: boolean;
  resolve: (record: ChainedAuditRecord) => void;
  reject: (err: unknown) => void;
}

/**
 * Appends records to the audit chain in the order of `append` calls. Each caller's promise settles only
 * when its own record's transaction has committed, so the gateway forwards a call only once its record is
 * durable, and refuses it when the commit failed (fail closed).
 *
 * It owns no store: close() finishes the pending records but leaves the store open for its other users.
 */
export class AuditChainWriter {
  private readonly batchSize: number;
  private readonly deferMs: number;
  private queue: Pending[] = [];
  private scheduled = false;
  private deferredTimer: NodeJS.Timeout | undefined;
  /** Set by flush(): what is queued commits now, deferred or not. */
  private flushing = false;
  private committing = false;
  private closed = false;
  /** Settles after the newest appended record has; batches commit in order, so after every earlier one too. */
  private last: Promise<unknown> = Promise.resolve();

  constructor(private readonly store: AuditStore, options: AuditChainWriterOptions = {}) {
    const maxBatch = options.maxBatch ?? 512;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
    this.batchSize = options.groupCommit === false ? 1 : maxBatch;
    this.deferMs = options.deferMs ?? 20;
  }

  /**
   * `deferred`: nobody waits on this record before answering (an outcome), so it rides along with the next
   * commit instead of paying for a transaction of its own — within `deferMs`, or at flush and close. The
   * order of the chain is still the order of `append` calls. A crash in that window loses it; a decision
   * record, which a call waits on, is never deferred.
   */
  append(record: AuditRecord, deferred = false): Promise<ChainedAuditRecord> {
    if (this.closed) return Promise.reject(new AuditChainError('closed', 'the audit chain writer is closed'));
    let prepared: PreparedAuditRecord;
    try {
      if (typeof record?.instance !== 'string' || record.instance === '') throw new AuditChainError('not_serializable', 'an audit record must name its instance: it is appended to that instance\'s chain');
      prepared = PreparedAuditRecord.of(record);
    } catch (err) {
      return Promise.reject(err);
    }
    const promise = new Promise<ChainedAuditRecord>((resolve, reject) => {
      this.queue.push({ prepared, deferred, resolve, reject });
    });
    this.last = promise.catch(() => undefined);
    if (deferred) this.deferLater();
    else this.schedule();
    return promise;
  }

  /** Resolves once every record appended before this call has committed or failed. */
  async flush(): Promise<void> {
    this.flushing = true;
    this.schedule();
    await this.last;
  }

  private deferLater(): void {
    if (this.scheduled || this.deferredTimer !== undefined) return;
    this.deferredTimer = setTimeout(() => this.schedule(), this.deferMs);
    this.deferredTimer.unref();
  }

  /** Refuses further appends and waits for the pending ones. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private schedule(): void {
    if (this.scheduled || this.committing || this.queue.length === 0) return;
    clearTimeout(this.deferredTimer);
    this.deferredTimer = undefined;
    this.scheduled = true;
    // setImmediate, not a microtask: it runs after the I/O callbacks of this turn, so that requests that
    // arrived together have all appended by the time the batch is cut.
    setImmediate(() => void this.commitNext());
  }

  private async commitNext(): Promise<void> {
    this.scheduled = false;
    // A batch is one chain's: records are appended to the chain of the instance they name (one writer is one
    // instance in practice; a record naming another is committed in a batch of its own, in order).
    const instance = this.queue[0]!.prepared.record.instance;
    let n = 1;
    while (n < this.queue.length && n < this.batchSize && this.queue[n]!.prepared.record.instance === instance) n++;
    const batch = this.queue.splice(0, n);
    // One batch at a time: the next one is cut only after this one settled, so seq follows append order.
    this.committing = true;
    try {
      const rows = await this.store.append(instance, batch.map((p) => p.prepared), sealAuditRecord);
      if (rows.length !== batch.length) throw new Error(`the audit store stored ${rows.length} of ${batch.length} records`);
      batch.forEach((p, i) => {
        const row = rows[i]!;
        // The record as sealed (its JSON form is the stored body), without parsing the body back.
        p.resolve({ ...p.prepared.record, seq: row.seq, prevHash: row.prevHash, hash: row.hash });
      });
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      this.committing = false;
      if (this.queue.length === 0) this.flushing = false;
      else if (this.flushing || this.queue.some((p) => !p.deferred)) this.schedule();
      else this.deferLater();
    }
  }
}
