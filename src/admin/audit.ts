import type { AuditPosition, AuditQuery, AuditRow, AuditStore } from '../store/index.js';
import { parseAuditRow, verifyAuditChains, type ChainedAuditRecord, type VerifyAllResult, type VerifyAllOptions } from '../audit/index.js';
import { AdminError } from './errors.js';

/**
 * Reading the audit chain: newest records, filtered queries, paged export, verification. Reading is not a
 * change, so it writes no admin record (a record per query would also grow the chain it reads).
 */

/** Rows read per page. */
export const AUDIT_PAGE = 1_000;
export const MAX_AUDIT_LIMIT = 10_000;

export interface AuditWindow {
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
}

export interface AuditFilter extends AuditWindow {
  /** Who was authenticated (user or service). */
  subject?: string;
  /** The target: tool name, resource URI or prompt name (exact). */
  target?: string;
  decision?: 'allow' | 'deny';
  event?: 'call' | 'authentication' | 'outcome' | 'admin' | 'oauth';
  /** The upstream called (exact). */
  upstream?: string;
}

/** A stored row and the record it holds; `record` is undefined when its text is not one (verify says more). */
export interface AuditEntry {
  row: AuditRow;
  record: ChainedAuditRecord | undefined;
}

export function checkAuditWindow(window: AuditWindow): AuditWindow {
  if (window.since !== undefined && window.until !== undefined && window.since >= window.until) {
    throw new AdminError('invalid_input', '--since must be earlier than --until');
  }
  return { since: window.since, until: window.until };
}

function checkLimit(limit: number, min: number): void {
  if (!Number.isSafeInteger(limit) || limit < min || limit > MAX_AUDIT_LIMIT) {
    throw new AdminError('invalid_input', `the limit must be a whole number from ${min} to ${MAX_AUDIT_LIMIT}`);
  }
}

export function auditEntry(row: AuditRow): AuditEntry {
  try {
    return { row, record: parseAuditRow(row) };
  } catch {
    return { row, record: undefined };
  }
}

function queryOf(filter: AuditFilter): AuditQuery {
  return { ...checkAuditWindow(filter), subject: filter.subject, target: filter.target, decision: filter.decision, event: filter.event, upstream: filter.upstream };
}

export class AuditAdmin {
  constructor(private readonly audit: AuditStore) {}

  /** The newest `count` records, oldest first. */
  async tail(count: number): Promise<AuditEntry[]> {
    checkLimit(count, 0);
    if (count === 0) return [];
    return (await this.audit.query({ order: 'desc', limit: count })).reverse().map(auditEntry);
  }

  /** The newest `limit` records that match every filter given, oldest first; `more` when older ones match too. */
  async query(filter: AuditFilter, limit: number): Promise<{ entries: AuditEntry[]; more: boolean }> {
    checkLimit(limit, 1);
    const query = queryOf(filter);
    // One more than asked, to tell when the limit cut older matches off.
    const rows = (await this.audit.query({ ...query, order: 'desc', limit: limit + 1 })).reverse();
    const more = rows.length > limit;
    return { entries: (more ? rows.slice(1) : rows).map(auditEntry), more };
  }

  /**
   * One page of matching records, newest first, older than the cursor `before` (absent: from the newest). `next`
   * is the cursor of the following page, absent on the last one. Cursors are opaque: a position in the
   * merged order of every instance's chain (time, instance, seq).
   */
  async page(filter: AuditFilter, options: { before?: string; limit: number }): Promise<{ entries: AuditEntry[]; next?: string }> {
    checkLimit(options.limit, 1);
    const before = options.before === undefined ? undefined : decodeCursor(options.before);
    const rows = await this.audit.query({ ...queryOf(filter), ...(before ? { before } : {}), order: 'desc', limit: options.limit + 1 });
    const more = rows.length > options.limit;
    const page = more ? rows.slice(0, options.limit) : rows;
    return { entries: page.map(auditEntry), ...(more ? { next: encodeCursor(positionOf(page.at(-1)!)) } : {}) };
  }

  /**
   * The record numbered `seq` in `instance`'s chain; without an instance, the one chain that has a record
   * numbered so (AdminError('invalid_input') when several do). AdminError('not_found') when there is none.
   */
  async get(seq: number, instance?: string): Promise<AuditEntry> {
    const chains = instance !== undefined ? [instance] : (await this.audit.chains()).map((c) => c.instance);
    const found: AuditRow[] = [];
    for (const chain of chains) {
      const [row] = await this.audit.scan(chain, seq - 1, 1);
      if (row && row.seq === seq) found.push(row);
    }
    if (found.length === 0) throw new AdminError('not_found', `no audit record numbered ${seq}${instance !== undefined ? ` in the chain of ${instance}` : ''}`);
    if (found.length > 1) throw new AdminError('invalid_input', `${found.length} instances' chains have a record numbered ${seq}: name the instance too`);
    return auditEntry(found[0]!);
  }

  /**
   * Records written since `cursor` (each chain's last seq seen; updated in place), merged by time, at most
   * about one page: for following the chains as they grow. Per chain, not by time: an instance may commit a
   * record stamped earlier than one already shown from another, and it must still be shown.
   */
  async after(cursor: Map<string, number>): Promise<AuditEntry[]> {
    const rows: AuditRow[] = [];
    for (const chain of await this.audit.chains()) {
      const page = await this.audit.scan(chain.instance, cursor.get(chain.instance) ?? chain.anchor.seq, AUDIT_PAGE);
      if (page.length > 0) cursor.set(chain.instance, page.at(-1)!.seq);
      rows.push(...page);
    }
    return rows.map(auditEntry).sort((a, b) => compareEntries(a, b));
  }

  /** Each chain's newest seq (its anchor's when it has no records): where `after` starts. */
  async heads(): Promise<Map<string, number>> {
    return new Map((await this.audit.chains()).map((c) => [c.instance, c.head.seq]));
  }

  /** Every record (in the window, if given), of every chain merged by time, oldest first, a page at a time. */
  async *all(window: AuditWindow = {}): AsyncGenerator<AuditEntry[]> {
    const filter = checkAuditWindow(window);
    let after: AuditPosition | undefined;
    for (;;) {
      const rows = await this.audit.query({ ...filter, ...(after ? { after } : {}), order: 'asc', limit: AUDIT_PAGE });
      if (rows.length > 0) yield rows.map(auditEntry);
      if (rows.length < AUDIT_PAGE) return;
      after = positionOf(rows.at(-1)!);
    }
  }

  /** Checks that no stored record was changed, removed or reordered; `expectHead` also catches records cut from the end. */
  verify(options: VerifyAllOptions = {}): Promise<VerifyAllResult> {
    return verifyAuditChains(this.audit, options);
  }
}

/** A row's place in the merged order; its ts comes from its text (an unreadable row sorts first). */
export function positionOf(row: AuditRow): AuditPosition {
  let ts = '';
  try {
    const body = JSON.parse(row.body) as { ts?: unknown };
    if (typeof body.ts === 'string') ts = body.ts;
  } catch {
    // verify reports it
  }
  return { ts, instance: row.instance, seq: row.seq };
}

function compareEntries(a: AuditEntry, b: AuditEntry): number {
  const x = positionOf(a.row);
  const y = positionOf(b.row);
  if (x.ts !== y.ts) return x.ts < y.ts ? -1 : 1;
  if (x.instance !== y.instance) return x.instance < y.instance ? -1 : 1;
  return x.seq - y.seq;
}

export function encodeCursor(p: AuditPosition): string {
  return Buffer.from(JSON.stringify([p.ts, p.instance, p.seq]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): AuditPosition {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 3 && typeof value[0] === 'string' && typeof value[1] === 'string' && Number.isSafeInteger(value[2])) {
      return { ts: value[0], instance: value[1], seq: value[2] as number };
    }
  } catch {
    // below
  }
  throw new AdminError('invalid_input', 'cursor: expected the `next` value of a previous page');
}
