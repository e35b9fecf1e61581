import type { Logger } from '../shared/log.js';
import type { AuditStore } from '../store/index.js';

const HOUR = 3_600_000;

export interface AuditMaintenanceOptions {
  /** Records older than this many days are pruned hourly; 0 keeps them all. */
  retainDays: number;
  /** Log the chain's head at start, hourly and at close (when the chain is the gateway's audit sink). */
  publishHead: boolean;
  /** This gateway's chain: the head it publishes (retention prunes every chain). */
  instance: string;
}

/**
 * The audit chain's housekeeping while a gateway runs: retention, and publishing the chain's head (seq and
 * hash) to the log. The log goes elsewhere (a shipper, a SIEM), and a head kept outside the store is what
 * `warden audit verify --expect` checks against: the one thing that shows records cut from the end.
 */
export class AuditMaintenance {
  private readonly timers: NodeJS.Timeout[] = [];

  private constructor(private readonly audit: AuditStore, private readonly options: AuditMaintenanceOptions, private readonly log: Logger) {}

  static async start(audit: AuditStore, options: AuditMaintenanceOptions, log: Logger): Promise<AuditMaintenance> {
    const maintenance = new AuditMaintenance(audit, options, log);
    if (options.retainDays > 0) {
      await maintenance.prune();
      maintenance.every(() => maintenance.prune(), 'audit retention failed');
    }
    if (options.publishHead) {
      await maintenance.publishHead();
      maintenance.every(() => maintenance.publishHead(), 'could not read the audit chain head');
    }
    return maintenance;
  }

  private every(work: () => Promise<void>, failure: string): void {
    const timer = setInterval(() => void work().catch((err: Error) => this.log.error({ err: err.message }, failure)), HOUR);
    timer.unref();
    this.timers.push(timer);
  }

  private async prune(): Promise<void> {
    const { retainDays } = this.options;
    const removed = await this.audit.prune(Date.now() - retainDays * 86_400_000);
    if (removed > 0) this.log.info({ removed, retainDays }, 'pruned old audit records');
  }

  private async publishHead(): Promise<void> {
    const head = await this.audit.head(this.options.instance);
    // In the form `warden audit verify --expect` takes.
    this.log.info({ auditHead: `${this.options.instance}@${head.seq}:${head.hash}` }, 'audit chain head');
  }

  /** Stops the timers; call after the last record was written, so the head published last is the final one. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    if (this.options.publishHead) await this.publishHead().catch(() => {});
  }
}
