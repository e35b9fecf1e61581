import type { WardenConfig } from '../config/index.js';
import { startGateway, type RunningGateway } from '../gateway/index.js';
import { createLogger } from '../shared/log.js';
import { fail } from './output.js';
import { prettyLogs, type LogOptions } from './log-options.js';
import { nativeModuleProblem } from './runtime-notices.js';

/**
 * Starts a gateway and stops it gracefully on SIGTERM or SIGINT: new requests are refused, in-flight ones
 * finish, children end. A second signal exits at once.
 */
export async function runGateway(config: WardenConfig, secrets: Set<string>, options: LogOptions = {}): Promise<{ gateway: RunningGateway }> {
  const log = createLogger({ level: options.logLevel ?? config.log.level, secrets, pretty: prettyLogs(options.logFormat) });
  let gateway: RunningGateway;
  try {
    gateway = await startGateway(config, { log });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'EADDRINUSE'
      ? `port ${config.listen.port} on ${config.listen.host} is in use; stop the other process or set listen.port`
      : e.code === 'EACCES' ? `not allowed to listen on port ${config.listen.port}; use a port above 1023` : undefined;
    fail(why ? `cannot listen: ${why}` : nativeModuleProblem(err) ?? `cannot start: ${e.message}`);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, 'shutting down');
    // Bounded: the grace for answers in flight, then time for children to stop; past that, leave anyway.
    const deadline = config.http.shutdownGrace + 10_000;
    setTimeout(() => {
      log.error({ afterMs: deadline }, 'shutdown did not finish in time; exiting');
      log.flush();
      process.exit(1);
    }, deadline).unref();
    void gateway.close().then(() => {
      log.info('stopped');
      log.flush();
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // After `warden keys rotate-signing`: use the new keys now rather than within the minute.
  process.on('SIGHUP', () => {
    void gateway.reloadKeys().then(() => log.info('signing keys and TLS certificates reloaded'), (err: Error) => log.error({ err: err.message }, 'could not reload the signing keys or TLS certificates'));
  });
  log.info({ url: gateway.url, upstreams: Object.keys(config.upstreams) }, 'listening');
  return { gateway };
}
