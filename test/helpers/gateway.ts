import { Writable } from 'node:stream';
import { configSchema, type ConfigInput, type WardenConfig } from '../../src/config/index.js';
import { startGateway as start, type RunningGateway } from '../../src/gateway/index.js';
import { createLogger } from '../../src/shared/log.js';
import type { AuditRecord, AuditSink } from '../../src/audit/index.js';
import { auditBodies, recordAtExit } from './secret-sweep.js';

/** Collects log lines in memory, so a test can search them (for secrets, for messages). */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

export class MemoryAudit implements AuditSink {
  readonly records: AuditRecord[] = [];
  async write(record: AuditRecord): Promise<void> {
    this.records.push(record);
  }
  async close(): Promise<void> {}
}

export interface TestGateway {
  gateway: RunningGateway;
  config: WardenConfig;
  /** e.g. http://127.0.0.1:PORT */
  url: string;
  logs: LogCapture;
  audit: MemoryAudit;
  close(): Promise<void>;
}

/**
 * Runs a gateway in this process on a free loopback port, logging to memory. Audit records go to memory
 * (`audit`), unless `configuredAudit` lets the gateway build the sinks its config names (the store's chain).
 */
export async function startGateway(
  input: Partial<ConfigInput> & Pick<ConfigInput, 'upstreams'>,
  secrets: string[] = [],
  options: { configuredAudit?: boolean } = {},
): Promise<TestGateway> {
  const config = configSchema.parse({ listen: { host: '127.0.0.1', port: 0 }, log: { level: 'debug' }, ...input });
  const logs = new LogCapture();
  const audit = new MemoryAudit();
  const log = createLogger({ level: config.log.level, destination: logs, secrets });
  const gateway = await start(config, options.configuredAudit ? { log } : { log, audit });
  recordAtExit('gateway log', () => logs.text);
  recordAtExit('audit records', () => audit.records.map((r) => JSON.stringify(r)).join('\n'));
  const dbPath = config.store && 'sqlite' in config.store ? config.store.sqlite : undefined;
  if (options.configuredAudit && dbPath) recordAtExit('audit records', () => auditBodies(dbPath));
  return { gateway, config, url: gateway.url, logs, audit, close: () => gateway.close() };
}
