import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MAIN, ROOT, cliEnv, warden } from '../helpers/cli.js';
import { SqliteStore } from '../../src/store/index.js';
import { AuditChainWriter, parseAuditRow, sealAuditRecord, type AuditRecord, type ChainedAuditRecord } from '../../src/audit/index.js';

let dir: string;
let n = 0;
const NOW = Date.now();
const ago = (minutes: number) => new Date(NOW - minutes * 60_000).toISOString();

function record(overrides: Partial<AuditRecord>): AuditRecord {
  return {
    ts: ago(1), instance: 'test:1', event: 'call', requestId: `r${Math.random().toString(36).slice(2)}`, subject: 'alice',
    credential: { kind: 'api_key', id: 'k1' }, upstream: 'notes', method: 'tools/call', target: 'search_notes', targetKind: 'tool',
    decision: 'allow', reason: 'scope notes:read', ...overrides,
  };
}

/** Six records: two hours ago to ten minutes ago; #4 carries the text a CSV must quote and guard. */
const FIXTURE: AuditRecord[] = [
  record({ ts: ago(180) }),
  record({ ts: ago(120), subject: 'bob', target: 'delete_note', decision: 'deny', reason: "no scope of the caller opens tool 'delete_note'" }),
  record({ ts: ago(119), event: 'outcome', reason: 'answered', status: 200, latencyMs: 12 }),
  record({ ts: ago(30), subject: '=HYPERLINK("http://x.example","click")', target: '@SUM(A1)', reason: 'has "quotes", a comma\nand a line break\u001b[2J', userAgent: '-2+3' }),
  record({ ts: ago(20), event: 'admin', subject: 'root', method: 'keys.revoke', target: 'k1', targetKind: 'api_key', upstream: undefined, reason: 'key of alice' }),
  record({ ts: ago(10) }),
];

interface Fixture {
  file: string;
  db: string;
}

/** A config and store of its own per test (so the tests run in parallel), filled through the chain writer. */
async function fixture(records: AuditRecord[] = FIXTURE): Promise<Fixture> {
  const sub = join(dir, `c${++n}`);
  const db = join(sub, 'w.db');
  const file = join(dir, `c${n}.yaml`);
  writeFileSync(file, `upstreams: { notes: { url: "http://127.0.0.1:9/mcp" } }\nstore: { sqlite: ${JSON.stringify(db)} }\n`);
  const store = new SqliteStore(db);
  try {
    const writer = new AuditChainWriter(store.audit);
    await Promise.all(records.map((r) => writer.append(r)));
    await writer.close();
  } finally {
    await store.close();
  }
  return { file, db };
}

const audit = (f: Fixture, ...args: string[]) => warden(['audit', ...args, '--config', f.file]);

function jsonLines(stdout: string): ChainedAuditRecord[] {
  return stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as ChainedAuditRecord);
}

/** A small RFC 4180 reader, so the test checks the quoting rather than repeating it. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(cell), (cell = '');
    else if (c === '\r' && text[i + 1] === '\n') row.push(cell), rows.push(row), (row = []), (cell = ''), i++;
    else cell += c;
  }
  return rows;
}

before(() => {
  assert.ok(existsSync(MAIN), `${MAIN} is missing: run npm run build first`);
  dir = mkdtempSync(join(tmpdir(), 'warden-cli-audit-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('warden audit', { concurrency: true }, () => {
  test('tail -n: the newest records, oldest first, one line each; deny lines stand out', async () => {
    const f = await fixture();
    const run = await audit(f, 'tail', '-n', '3');
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT[\d:.]+Z +#4 allow call +=HYPERLINK\("http:\/\/x\.example","click"\) tools\/call notes:@SUM\(A1\)/);
    // The caller's control characters cannot start a fake line or drive the terminal.
    assert.match(lines[0]!, /\(has "quotes", a comma\?and a line break\?\[2J\)$/);
    assert.match(lines[1]!, /#5 allow admin +root +keys\.revoke k1 \(key of alice\)$/);
    assert.match(lines[2]!, /#6 allow call +alice +tools\/call notes:search_notes \(scope notes:read\)$/);

    const all = await audit(f, 'tail');
    assert.equal(all.stdout.trimEnd().split('\n').length, 6, 'default 20, and there are 6');
    assert.match(all.stdout, /#2 DENY  call +bob +tools\/call notes:delete_note \(no scope/);
    assert.match(all.stdout, /#3 allow outcome alice +tools\/call notes:search_notes \(answered\) 200 12ms/);
  });

  test('tail --json: one record per line, as the chain holds it', async () => {
    const f = await fixture();
    const run = await audit(f, 'tail', '-n', '2', '--json');
    assert.equal(run.code, 0, run.stderr);
    const records = jsonLines(run.stdout);
    assert.deepEqual(records.map((r) => r.seq), [5, 6]);
    const store = new SqliteStore(f.db);
    try {
      const stored = (await store.audit.scan('test:1', 4, 2)).map(parseAuditRow);
      assert.deepEqual(records, stored);
      assert.match(records[1]!.hash, /^[0-9a-f]{64}$/);
    } finally {
      await store.close();
    }
  });

  test('query by subject, tool, decision, event, and time window', async () => {
    const f = await fixture();
    const seqs = async (...args: string[]) => {
      const run = await audit(f, 'query', '--json', ...args);
      assert.equal(run.code, 0, run.stderr);
      return jsonLines(run.stdout).map((r) => r.seq);
    };
    assert.deepEqual(await seqs('--subject', 'alice'), [1, 3, 6]);
    assert.deepEqual(await seqs('--tool', 'delete_note'), [2]);
    assert.deepEqual(await seqs('--decision', 'deny'), [2]);
    assert.deepEqual(await seqs('--event', 'outcome'), [3]);
    assert.deepEqual(await seqs('--since', '1h'), [4, 5, 6]);
    assert.deepEqual(await seqs('--since', ago(125), '--until', ago(60)), [2, 3]);
    assert.deepEqual(await seqs('--subject', 'alice', '--since', '2h'), [3, 6]);
    assert.deepEqual(await seqs('--subject', 'nobody'), []);

    const limited = await audit(f, 'query', '--json', '--limit', '2');
    assert.deepEqual(jsonLines(limited.stdout).map((r) => r.seq), [5, 6], 'the newest matches, oldest first');
    assert.match(limited.stderr, /showing the newest 2 matching records/);

    const human = await audit(f, 'query', '--decision', 'deny');
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^\S+Z +#2 DENY  call +bob +tools\/call notes:delete_note/);
  });

  test('bad --since, --until, --decision or --limit: exit 2 with a message, nothing on stdout', async () => {
    const f = await fixture();
    for (const args of [['--since', 'yesterday'], ['--since', '1 hour'], ['--until', '2026-13-45'], ['--decision', 'maybe'], ['--limit', '0'], ['--limit', 'x']]) {
      const run = await audit(f, 'query', ...args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /error: option/);
    }
    const since = await audit(f, 'query', '--since', 'yesterday');
    assert.match(since.stderr, /a duration ago \(30m, 1h, 7d\) or an ISO 8601 time/);
    const order = await audit(f, 'query', '--since', '1h', '--until', '2h');
    assert.equal(order.code, 2);
    assert.match(order.stderr, /--since must be earlier than --until/);
    const tail = await audit(f, 'export', '--format', 'xml');
    assert.equal(tail.code, 2);
  });

  test('export jsonl to stdout: every record, parseable, with its chain fields', async () => {
    const f = await fixture();
    const run = await audit(f, 'export', '--format', 'jsonl');
    assert.equal(run.code, 0, run.stderr);
    const records = jsonLines(run.stdout);
    assert.deepEqual(records.map((r) => r.seq), [1, 2, 3, 4, 5, 6]);
    assert.equal(records[3]!.reason, 'has "quotes", a comma\nand a line break\u001b[2J');
    assert.equal(records[1]!.prevHash, records[0]!.hash);

    const windowed = await audit(f, 'export', '--format', 'jsonl', '--since', '1h');
    assert.deepEqual(jsonLines(windowed.stdout).map((r) => r.seq), [4, 5, 6]);
  });

  test('export csv --out: a 0600 file, fixed header, RFC 4180 quoting, formula cells guarded', async () => {
    const f = await fixture();
    const out = join(dir, `export-${n}.csv`);
    const run = await audit(f, 'export', '--format', 'csv', '--out', out);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /exported 6 records \(seq 1–6\) to /);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    const text = readFileSync(out, 'utf8');
    assert.ok(text.startsWith('seq,ts,instance,event,requestId,subject,tenant,clientId,credentialKind,credentialId,actor,upstream,method,target,targetKind,decision,reason,status,latencyMs,error,ip,userAgent,prevHash,hash\r\n'));
    const rows = parseCsv(text);
    assert.equal(rows.length, 7);
    const header = rows[0]!;
    assert.ok(rows.every((r) => r.length === header.length), 'every row has every column');
    const cell = (row: number, column: string) => rows[row]![header.indexOf(column)];
    assert.equal(cell(4, 'subject'), `'=HYPERLINK("http://x.example","click")`);
    assert.equal(cell(4, 'target'), "'@SUM(A1)");
    assert.equal(cell(4, 'userAgent'), "'-2+3");
    assert.equal(cell(4, 'reason'), 'has "quotes", a comma\nand a line break\u001b[2J');
    assert.equal(cell(3, 'status'), '200');
    assert.equal(cell(3, 'latencyMs'), '12');
    assert.equal(cell(1, 'credentialKind'), 'api_key');
    assert.equal(cell(5, 'upstream'), '');
    assert.match(cell(6, 'hash')!, /^[0-9a-f]{64}$/);
    assert.equal(cell(2, 'prevHash'), cell(1, 'hash'));
  });

  test('export --out over an existing file: replaced, and tightened to 0600', async () => {
    const f = await fixture();
    const out = join(dir, `existing-${n}.jsonl`);
    writeFileSync(out, 'old\n', { mode: 0o644 });
    const run = await audit(f, 'export', '--format', 'jsonl', '--out', out);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    assert.deepEqual(jsonLines(readFileSync(out, 'utf8')).map((r) => r.seq), [1, 2, 3, 4, 5, 6]);
  });

  test('verify: intact → exit 0 with the count and the head to keep elsewhere', async () => {
    const f = await fixture();
    const run = await audit(f, 'verify');
    assert.equal(run.code, 0, run.stderr);
    const store = new SqliteStore(f.db);
    const head = await store.audit.head('test:1');
    await store.close();
    assert.match(run.stdout, /intact: 6 records in 1 chain/);
    assert.match(run.stdout, /test:1: intact, 6 records, seq 1–6/);
    assert.ok(run.stdout.includes(`head test:1@6:${head.hash}`));
    assert.match(run.stdout, /Keep the heads somewhere other than this store/);

    const json = await audit(f, 'verify', '--json');
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), { ok: true, records: 6, chains: [{ instance: 'test:1', ok: true, records: 6, first: 1, head }] });
  });

  test('verify: a row edited with raw SQL → exit 1 naming its seq', async () => {
    const f = await fixture();
    const db = new Database(f.db);
    db.prepare("UPDATE audit_records SET body = replace(body, '\"bob\"', '\"carol\"') WHERE seq = 2").run();
    db.close();
    const run = await audit(f, 'verify');
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /BROKEN at record 2 \(changed\)/);
    assert.match(run.stdout, /1 record before it verified/);

    const json = await audit(f, 'verify', '--json');
    assert.equal(json.code, 1, json.stderr);
    assert.equal(json.stderr, '');
    const result = JSON.parse(json.stdout) as { ok: boolean; chains: Array<{ instance: string; problem: { seq: number; kind: string } }> };
    assert.equal(result.ok, false);
    assert.deepEqual([result.chains[0]!.instance, result.chains[0]!.problem.seq, result.chains[0]!.problem.kind], ['test:1', 2, 'changed']);
  });

  test('--store reads a store file without a config (a copy handed to an auditor, the demo\'s store)', async () => {
    const f = await fixture();
    const run = await warden(['audit', 'verify', '--store', f.db]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /intact: 6 records/);
    const missing = await warden(['audit', 'tail', '--store', join(dir, 'nope.db')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no store at .*nope\.db/);
  });

  test('verify --expect: a recorded head catches records cut from the end, which plain verify cannot see', async () => {
    const f = await fixture();
    const store = new SqliteStore(f.db);
    const head = await store.audit.head('test:1');
    await store.close();
    assert.equal((await audit(f, 'verify', '--expect', `${head.seq}:${head.hash}`)).code, 0);
    const db = new Database(f.db);
    db.prepare('DELETE FROM audit_records WHERE seq >= 5').run();
    db.close();
    assert.equal((await audit(f, 'verify')).code, 0, 'a cut tail leaves no trace in what remains');
    const run = await audit(f, 'verify', '--expect', `${head.seq}:${head.hash}`);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /BROKEN at record 6 \(removed\)/);
    assert.match(run.stdout, /cut from its end/);
    assert.equal((await audit(f, 'verify', '--expect', 'nonsense')).code, 2);
  });

  test('verify reports every instance\'s chain; --expect names the chain when there are several', async () => {
    const f = await fixture();
    const store = new SqliteStore(f.db);
    const other: Record<string, unknown> = { ...(JSON.parse((await store.audit.scan('test:1', 0, 1))[0]!.body) as Record<string, unknown>), instance: 'gw-2', requestId: 'other' };
    delete other.seq;
    delete other.prevHash;
    await store.audit.append('gw-2', [other], sealAuditRecord);
    const head = await store.audit.head('gw-2');
    await store.close();
    const run = await audit(f, 'verify');
    assert.equal(run.code, 0, run.stdout);
    assert.match(run.stdout, /intact: 7 records in 2 chains/);
    assert.match(run.stdout, /gw-2: intact, 1 record, seq 1–1/);
    assert.equal((await audit(f, 'verify', '--expect', `gw-2@${head.seq}:${head.hash}`)).code, 0);
    const ambiguous = await audit(f, 'verify', '--expect', `${head.seq}:${head.hash}`);
    assert.equal(ambiguous.code, 2);
    assert.match(ambiguous.stderr, /names no instance, and the store has 2 chains/);
    assert.equal((await audit(f, 'verify', '--expect', `gw-2@${head.seq}:${'0'.repeat(64)}`)).code, 1, 'a wrong recorded head fails');
  });

  test('verify: a deleted row → exit 1, removed', async () => {
    const f = await fixture();
    const db = new Database(f.db);
    db.prepare('DELETE FROM audit_records WHERE seq = 4').run();
    db.close();
    const run = await audit(f, 'verify');
    assert.equal(run.code, 1);
    assert.match(run.stdout, /BROKEN at record 4 \(removed\)/);
  });

  test('a store that does not exist is an error, not an empty intact chain', async () => {
    const file = join(dir, `missing-${++n}.yaml`);
    writeFileSync(file, `upstreams: { notes: { url: "http://127.0.0.1:9/mcp" } }\nstore: { sqlite: ${JSON.stringify(join(dir, 'nope', 'w.db'))} }\n`);
    const run = await warden(['audit', 'verify', '--config', file]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /no store at .*nope/);
    assert.equal(existsSync(join(dir, 'nope')), false);
  });

  test('tail --follow prints a record appended after it started, and exits 0 on SIGTERM', async () => {
    const f = await fixture();
    const child = spawn(process.execPath, [MAIN, 'audit', 'tail', '-n', '1', '--follow', '--config', f.file], { cwd: ROOT, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let changed = () => {};
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      changed();
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const waitFor = (re: RegExp) => new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; stdout: ${stdout}; stderr: ${stderr}`)), 10_000);
      changed = () => {
        if (!re.test(stdout)) return;
        clearTimeout(timer);
        resolve();
      };
      changed();
    });
    try {
      await waitFor(/#6 allow/);
      const store = new SqliteStore(f.db);
      try {
        await store.audit.append('test:1', [record({ ts: new Date().toISOString(), subject: 'dave', target: 'create_note' })], sealAuditRecord);
      } finally {
        await store.close();
      }
      await waitFor(/#7 allow call +dave +tools\/call notes:create_note/);
      assert.equal(stdout.trimEnd().split('\n').length, 2);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, stderr);
  });
});
