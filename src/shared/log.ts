import { pino, type Logger, type LevelWithSilent } from 'pino';
import { PinoPretty } from 'pino-pretty';

export type { Logger };

/** Header and field paths that can carry a credential; pino removes them before a line is written. */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'cookie',
  'password',
  'token',
  'secret',
];

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Literal values never to print (the secrets interpolated into the config from the environment). */
  secrets?: Iterable<string>;
  /** Where lines go; stderr by default, so stdout stays free for MCP stdio and command output. */
  destination?: NodeJS.WritableStream | number;
  /** Human-readable lines (time, level, message, fields) instead of JSON: for a person at a terminal. */
  pretty?: boolean;
}

/**
 * Structured JSON logs. Redaction happens twice: by path for known credential fields, and by value for every
 * configured secret, so a secret that reaches a message by another route (an upstream's stderr, an error
 * text) is still scrubbed.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const secrets = [...(options.secrets ?? [])].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  const scrub = secrets.length === 0 ? undefined : (line: string) => scrubSecrets(line, secrets);
  const destination = options.destination ?? 2;
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      ...(scrub ? { hooks: { streamWrite: scrub } } : {}),
    },
    options.pretty
      ? PinoPretty({ destination: typeof destination === 'number' ? destination : destination as NodeJS.WritableStream, sync: true, colorize: true, translateTime: 'HH:MM:ss', ignore: 'pid,hostname' })
      : typeof destination === 'number' ? bufferedDestination(destination) : destination,
  );
}

/**
 * Lines are gathered up to 4 KiB and written together, which halves the gateway's logging cost under load;
 * a timer flushes at least every 250 ms so a quiet gateway's log is still current, and pino flushes
 * synchronously on exit.
 */
function bufferedDestination(fd: number) {
  const stream = pino.destination({ fd, sync: false, minLength: 4096 });
  const timer = setInterval(() => stream.flush(), 250);
  timer.unref();
  return stream;
}

export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join('[REDACTED]');
    // The same secret as JSON would escape it inside a log line.
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret && out.includes(escaped)) out = out.split(escaped).join('[REDACTED]');
  }
  return out;
}

export const silentLogger: Logger = pino({ level: 'silent' });
