import { InvalidArgumentError, Option, type Command } from 'commander';
import type { StoreConfig } from '../../config/index.js';
import type { AuditAdmin, AuditEntry, AuditFilter } from '../../admin/index.js';
// Tiny and pure: imported eagerly so that option parsers can reject a bad value synchronously (exit 2).
import { resolve } from 'node:path';
import { parseDuration } from '../../shared/duration.js';
import { CSV_COLUMNS, clean, csvRecord, csvRow, humanLine, jsonLine } from '../audit-format.js';
import { CliFailure, adminFailure } from '../store-command.js';

/**
 * `warden audit`: read, export and verify the tamper-evident audit chain in the store the config names.
 * Safe while `warden serve` writes to it (SQLite in WAL mode: readers never block the writer).
 */

interface Common {
  config?: string;
  store?: string;
  json?: boolean;
}

interface Window {
  since?: number;
  until?: number;
}

const CONFIG_HELP = 'config file (default: $WARDEN_CONFIG or ./warden.yaml)';
const TIME_HELP = 'a duration ago (30m, 1h, 7d) or an ISO 8601 time';
const FOLLOW_INTERVAL_MS = 500;
const PROGRESS_EVERY = 10_000;

/** `1h` is an hour ago; an ISO 8601 date or time is taken as it is. Anything else is a usage error (exit 2). */
function timeArg(value: string): number {
  if (/^\d+(ms|s|m|h|d)$/.test(value.trim())) return Date.now() - parseDuration(value);
  const iso = /^\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:?\d\d)?)?$/i;
  const ms = iso.test(value.trim()) ? Date.parse(value.trim()) : NaN;
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`expected ${TIME_HELP}, e.g. 1h or 2026-11-22T19:00:00Z`);
  return ms;
}

function countArg(min: number, max: number) {
  return (value: string): number => {
    const n = /^\d+$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return n;
  };
}

function withCommon(command: Command, jsonHelp?: string): Command {
  command.option('-c, --config <path>', CONFIG_HELP);
  command.option('--store <file>', 'read this SQLite store file instead of the one the config names (e.g. .warden/demo.db, or a copy)');
  return jsonHelp ? command.option('--json', jsonHelp) : command;
}

const JSON_LINES = 'one JSON record per line';

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('show, export and verify the tamper-evident audit log');

  withCommon(audit
    .command('tail')
    .description('the newest audit records, oldest first; --follow keeps printing new ones')
    .addOption(new Option('-n, --lines <n>', 'how many records').argParser(countArg(0, 10_000)).default(20))
    .option('--follow', 'print records as they are written, until interrupted'), JSON_LINES)
    .action(async (opts: Common & { lines: number; follow?: boolean }) => {
      await withAudit(opts, async (audit) => {
        // The heads before the tail, then moved past what the tail printed: a record written between the two
        // reads is printed once, by the tail or by --follow, never skipped.
        const cursor = opts.follow ? await audit.heads() : undefined;
        const entries = await audit.tail(opts.lines);
        const print = printer(opts.json);
        for (const entry of entries) print(entry);
        if (!cursor) return 0;
        for (const { row } of entries) cursor.set(row.instance, Math.max(cursor.get(row.instance) ?? 0, row.seq));
        await follow(audit, cursor, print);
        return 0;
      });
    });

  withCommon(audit
    .command('query')
    .description('audit records that match every filter given: the newest --limit of them, oldest first')
    .option('--subject <subject>', 'who was authenticated (user or service)')
    .option('--tool <name>', 'the target: tool name, resource URI or prompt name (exact)')
    .addOption(new Option('--decision <decision>', 'allow or deny').choices(['allow', 'deny']))
    .addOption(new Option('--event <event>', 'kind of record').choices(['call', 'authentication', 'outcome', 'admin', 'oauth']))
    .option('--since <time>', `from this time on: ${TIME_HELP}`, timeArg)
    .option('--until <time>', `before this time: ${TIME_HELP}`, timeArg)
    .addOption(new Option('--limit <n>', 'most records shown').argParser(countArg(1, 10_000)).default(100)), JSON_LINES)
    .action(async (opts: Common & Window & { subject?: string; tool?: string; decision?: 'allow' | 'deny'; event?: AuditFilter['event']; limit: number }) => {
      await withAudit(opts, async (audit) => {
        const { entries, more } = await audit.query({ since: opts.since, until: opts.until, subject: opts.subject, target: opts.tool, decision: opts.decision, event: opts.event }, opts.limit);
        const print = printer(opts.json);
        for (const entry of entries) print(entry);
        if (more) process.stderr.write(`warden: showing the newest ${opts.limit} matching records; older ones match too (--limit, --until)\n`);
        else if (entries.length === 0 && !opts.json) process.stderr.write('warden: no matching audit records\n');
        return 0;
      });
    });

  withCommon(audit
    .command('export')
    .description('every audit record (in a time window, if given) as JSON lines or CSV')
    .addOption(new Option('--format <format>', 'jsonl or csv').choices(['jsonl', 'csv']).makeOptionMandatory())
    .option('--out <file>', 'write to this file (created 0600) instead of stdout')
    .option('--since <time>', `from this time on: ${TIME_HELP}`, timeArg)
    .option('--until <time>', `before this time: ${TIME_HELP}`, timeArg))
    .action(async (opts: Common & Window & { format: 'jsonl' | 'csv'; out?: string }) => {
      await withAudit(opts, (audit) => exportRecords(audit, opts));
    });

  withCommon(audit
    .command('verify')
    .description('check that no stored record was changed, removed or reordered since it was written'), 'print the result as JSON')
    .option('--expect <instance@seq:hash>', 'a head printed by an earlier verify (repeatable, one per chain): also check that it is still there (catches records cut from the end)', parseHead)
    .action(async (opts: Common & { expect?: ExpectedHead[] }) => {
      await withAudit(opts, (audit) => verify(audit, opts.json === true, opts.expect));
    });
}

/** Loads the config, opens its store, runs the command, and closes the store before exiting with its code. */
async function withAudit(opts: Common, run: (audit: AuditAdmin) => Promise<number>): Promise<void> {
  const { loadConfigOrExit, fail } = await import('../output.js');
  const { existsSync } = await import('node:fs');
  let storeConfig: StoreConfig;
  let named: string;
  if (opts.store !== undefined) {
    storeConfig = { sqlite: resolve(opts.store), synchronous: 'normal' };
    named = '--store names it';
  } else {
    const { config, file } = loadConfigOrExit(opts.config, opts.json);
    storeConfig = config.store;
    named = `${file} names it; \`warden serve\` creates it`;
    if (!config.audit.store) process.stderr.write(`warden: warning: ${file} has audit.store: false, so the gateway adds no records to this store\n`);
  }
  // Opening would create an empty store, and an empty chain verifies: a wrong path must not look intact.
  if ('sqlite' in storeConfig && storeConfig.sqlite !== ':memory:' && !existsSync(storeConfig.sqlite)) fail(`no store at ${storeConfig.sqlite} (${named})`);
  const { openStore, StoreError } = await import('../../store/index.js');
  const { AdminError, AuditAdmin } = await import('../../admin/index.js');
  let store;
  try {
    store = await openStore({ store: storeConfig }, { announce: false });
  } catch (err) {
    if (err instanceof StoreError) return fail(err.message);
    throw err;
  }
  // A reader that went away (`| head`) ends the command quietly: it had what it wanted.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' ? process.exit(0) : fail(`cannot write to stdout: ${err.message}`)));
  let code = 0;
  let failure: { message: string; code: number } | undefined;
  try {
    code = await run(new AuditAdmin(store.audit));
  } catch (err) {
    if (err instanceof AdminError) failure = adminFailure(err);
    else if (err instanceof CliFailure) failure = { message: err.message, code: err.exitCode };
    else if (err instanceof StoreError) failure = { message: err.message, code: 1 };
    else throw err;
  } finally {
    await store.close();
  }
  if (failure) fail(failure.message, failure.code);
  process.exitCode = code;
}

// ---- tail and query --------------------------------------------------------------------------------------

/** Prints rows as lines: JSON, or one compact line per record for a person. */
function printer(json: boolean | undefined): (entry: AuditEntry) => void {
  return ({ row, record }) => {
    process.stdout.write(`${json ? jsonLine(record ?? { seq: row.seq, unreadable: true }) : humanLine(row, record)}\n`);
  };
}

/** Polls for records after each chain's `cursor` until SIGINT or SIGTERM, which end the command normally (exit 0). */
async function follow(audit: AuditAdmin, cursor: Map<string, number>, print: (entry: AuditEntry) => void): Promise<void> {
  const { setTimeout: sleep } = await import('node:timers/promises');
  const { AUDIT_PAGE } = await import('../../admin/index.js');
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    while (!stop.signal.aborted) {
      const entries = await audit.after(cursor);
      for (const entry of entries) print(entry);
      if (entries.length >= AUDIT_PAGE) continue; // more are waiting: no pause
      await sleep(FOLLOW_INTERVAL_MS, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * Subjects, targets and user agents are the callers' text: control and bidi characters are shown as `?`,
 * so a record cannot move the operator's cursor, recolour the terminal or disguise what a line says.
 */

async function exportRecords(audit: AuditAdmin, opts: Common & Window & { format: 'jsonl' | 'csv'; out?: string }): Promise<number> {
  // Before --out is opened: a refused window must not truncate an existing file.
  const window = (await import('../../admin/index.js')).checkAuditWindow(opts);
  const { createWriteStream, existsSync, fchmodSync, fstatSync, openSync, rmSync } = await import('node:fs');
  let out: NodeJS.WritableStream = process.stdout;
  let created = false;
  if (opts.out) {
    let fd: number;
    try {
      created = !existsSync(opts.out);
      fd = openSync(opts.out, 'w', 0o600);
      // An existing file keeps its mode on open, and records name users; but a device or a pipe (/dev/stdout,
      // a FIFO) is not ours to change.
      if (fstatSync(fd).isFile()) fchmodSync(fd, 0o600);
    } catch (err) {
      throw new CliFailure(`cannot write ${opts.out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 1);
    }
    out = createWriteStream('', { fd });
  }
  // Kept, not thrown: a stream error without a listener would crash the process mid-export.
  let streamError: Error | undefined;
  out.on('error', (err: Error) => (streamError = err));
  const settle = (event: 'drain' | 'finish') => new Promise<void>((resolve) => {
    const done = () => {
      out.off(event, done);
      out.off('error', done);
      resolve();
    };
    out.once(event, done);
    out.once('error', done);
  });
  const where = opts.out ?? 'stdout';
  const check = () => {
    if (streamError) throw new CliFailure(`cannot write ${where}: ${streamError.message}`, 1);
  };
  const write = async (text: string) => {
    if (!streamError && !out.write(text)) await settle('drain');
    check();
  };
  let count = 0;
  let first: number | undefined;
  let last = 0;
  try {
    if (opts.format === 'csv') await write(csvRow(CSV_COLUMNS));
    for await (const page of audit.all(window)) {
      for (const { row, record } of page) {
        await write(opts.format === 'csv' ? csvRecord(row, record) : `${jsonLine(record ?? { seq: row.seq, prevHash: row.prevHash, hash: row.hash, unreadable: true })}\n`);
        first ??= row.seq;
        last = row.seq;
        if (++count % PROGRESS_EVERY === 0 && opts.out) process.stderr.write(`warden: exported ${count} records…\n`);
      }
    }
    if (out !== process.stdout) {
      const finished = settle('finish');
      out.end();
      await finished;
      check();
    }
  } catch (err) {
    // A partial export looks complete to whoever opens it later: remove it, if this export created it.
    if (opts.out && created) rmSync(opts.out, { force: true });
    throw err;
  }
  if (opts.out) {
    const span = first === undefined ? '' : ` (seq ${first}–${last})`;
    process.stderr.write(`warden: exported ${count} record${count === 1 ? '' : 's'}${span} to ${opts.out}\n`);
  }
  return 0;
}

// ---- verify ----------------------------------------------------------------------------------------------

/** `<instance>@<seq>:<hash>` as verify prints heads; `<seq>:<hash>` alone names the only chain. */
function parseHead(value: string, previous: ExpectedHead[] = []): ExpectedHead[] {
  const match = /^(?:(.+)@)?(\d{1,15}):([0-9a-f]{64})$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError('expected <instance>@<seq>:<sha256 hex>, as `warden audit verify` prints each chain\'s head, e.g. gw-1@42:9f86d0…');
  return [...previous, { ...(match[1] !== undefined ? { instance: match[1] } : {}), seq: Number(match[2]), hash: match[3]! }];
}

interface ExpectedHead {
  instance?: string;
  seq: number;
  hash: string;
}

async function verify(audit: AuditAdmin, json: boolean, expected: ExpectedHead[] = []): Promise<number> {
  let shown = Date.now();
  const expectHeads: Array<{ instance: string; seq: number; hash: string }> = [];
  if (expected.length > 0) {
    const chains = [...(await audit.heads()).keys()];
    for (const e of expected) {
      if (e.instance !== undefined) expectHeads.push({ instance: e.instance, seq: e.seq, hash: e.hash });
      else if (chains.length === 1) expectHeads.push({ instance: chains[0]!, seq: e.seq, hash: e.hash });
      else throw new CliFailure(`--expect ${e.seq}:… names no instance, and the store has ${chains.length} chains; write it as <instance>@<seq>:<hash>`, 2);
    }
  }
  const result = await audit.verify({
    expectHeads,
    // Progress only for a chain long enough that the wait needs explaining, at most once a second.
    onProgress: (checked) => {
      const now = Date.now();
      if (now - shown < 1_000) return;
      shown = now;
      process.stderr.write(`warden: verified ${checked} records…\n`);
    },
  });
  if (json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return result.ok ? 0 : 1;
  }
  const name = (instance: string) => (instance === '' ? '(records from before chains were per instance)' : clean(instance, 128));
  const lines: string[] = [];
  for (const chain of result.chains) {
    if (!chain.ok) {
      const { seq, kind, detail } = chain.problem;
      lines.push(`${name(chain.instance)}: BROKEN at record ${seq} (${kind}): ${clean(detail, 400)}; ${chain.records} record${chain.records === 1 ? '' : 's'} before it verified`);
      continue;
    }
    const span = chain.first === undefined ? 'no records' : `${chain.records} record${chain.records === 1 ? '' : 's'}, seq ${chain.first}–${chain.head.seq}`;
    const pruned = chain.first !== undefined && chain.first > 1 ? ` (records before ${chain.first} were removed by retention)` : '';
    lines.push(`${name(chain.instance)}: intact, ${span}${pruned}; head ${chain.instance}@${chain.head.seq}:${chain.head.hash}`);
  }
  if (!result.ok) {
    process.stdout.write(`audit chains BROKEN (${result.chains.filter((c) => !c.ok).length} of ${result.chains.length}):\n${lines.map((l) => `  ${l}\n`).join('')}`);
    return 1;
  }
  process.stdout.write(
    `audit chain${result.chains.length === 1 ? '' : 's'} intact: ${result.records} record${result.records === 1 ? '' : 's'} in ${result.chains.length} chain${result.chains.length === 1 ? '' : 's'} (one per instance)\n` +
      lines.map((l) => `  ${l}\n`).join('') +
      'Keep the heads somewhere other than this store (a ticket, another system\'s log) and check them later with\n' +
      '`warden audit verify --expect <instance>@<seq>:<hash>`: records cut from the end of a chain leave no trace in it otherwise.\n',
  )
  return 0;
}
