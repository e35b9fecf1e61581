import { chmodSync, createWriteStream, mkdirSync, openSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../shared/log.js';
import type { AuditRecord } from './record.js';
import { AuditChainWriter } from './chain-writer.js';
import type { WardenConfig } from '../config/index.js';
import type { Store } from '../store/index.js';

type AuditConfig = WardenConfig['audit'];

export interface WriteOptions {
  /**
   * Nothing waits on this record (an outcome, written after the answer): the chain may hold it for the next
   * commit (at most `AuditChainWriter`'s defer window) instead of committing it on its own.
   */
  deferred?: boolean;
}

export interface AuditSink {
  /** Resolves once the record is handed to the sink's medium; the caller forwards only after that. */
  write(record: AuditRecord, options?: WriteOptions): Promise<void>;
  close(): Promise<void>;
}

/** Appends one JSON line per record; the file is created owner-only, since records name users. */
export class JsonlFileSink implements AuditSink {
  private readonly stream: WriteStream;
  private failure: Error | undefined;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    // Opened now, so a path that cannot be written fails at start-up with its reason, not at the first call.
    const fd = openSync(path, 'a', 0o600);
    try {
      chmodSync(path, 0o600); // an existing file too: records name users
    } catch {
      // not ours to change; the open above still succeeded
    }
    this.stream = createWriteStream('', { fd });
    this.stream.on('error', (err) => {
      this.failure = err;
    });
  }

  write(record: AuditRecord): Promise<void> {
    // Fail closed: when the audit file cannot be written, calls are refused rather than unrecorded.
    if (this.failure) return Promise.reject(new Error(`audit file ${this.path} cannot be written: ${this.failure.message}`));
    return new Promise((resolve, reject) => {
      this.stream.write(`${JSON.stringify(record)}\n`, (err) => (err ? reject(err) : resolve()));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(() => resolve()));
  }
}

/** Writes each record as a structured log line (`audit: true`), for log shippers. */
export class LogSink implements AuditSink {
  constructor(private readonly logger: Logger) {}

  async write(record: AuditRecord): Promise<void> {
    this.logger.info({ audit: true, ...record }, 'audit');
  }

  async close(): Promise<void> {}
}

/** One JSON line per record on stdout, for log shippers that read a process's output. */
export class StdoutSink implements AuditSink {
  async write(record: AuditRecord): Promise<void> {
    process.stdout.write(`${JSON.stringify(record)}\n`);
  }

  async close(): Promise<void> {}
}

/**
 * The audit trail of a gateway: the tamper-evident chain in the store first (it numbers and hashes the
 * record), then every other sink gets the chained record. A record counts as written when all have it.
 */
export class AuditTrail implements AuditSink {
  constructor(private readonly chain: AuditChainWriter | undefined, private readonly sinks: AuditSink[]) {}

  async write(record: AuditRecord, options?: WriteOptions): Promise<void> {
    const stored = this.chain ? await this.chain.append(record, options?.deferred) : record;
    if (this.sinks.length === 1) return this.sinks[0]!.write(stored);
    await Promise.all(this.sinks.map((s) => s.write(stored)));
  }

  async close(): Promise<void> {
    await this.chain?.close();
    await Promise.all(this.sinks.map((s) => s.close()));
  }
}

/**
 * The audit trail a config names: the store's hash chain (`audit.store`, when a store is given) and the extra
 * sinks (a JSONL file, stdout, the log). The gateway and `warden wrap` build theirs here.
 */
export function auditTrailFor(audit: AuditConfig, store: Pick<Store, 'audit'> | undefined, log: Logger): AuditTrail {
  const sinks: AuditSink[] = [];
  if (audit.file) sinks.push(new JsonlFileSink(audit.file));
  if (audit.stdout) sinks.push(new StdoutSink());
  if (audit.log) sinks.push(new LogSink(log.child({ component: 'audit' })));
  return new AuditTrail(audit.store && store ? new AuditChainWriter(store.audit) : undefined, sinks);
}
