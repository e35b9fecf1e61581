import type { AuditQuery, AuditRow, AuditStore } from '../store/index.js';
import { parseAuditRow, verifyAuditChain, type ChainedAuditRecord, type VerifyResult } from '../audit/index.js';
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
   * One page of matching records, newest first, older than `before` (a seq; absent: from the newest). `next` is
   * the cursor of the following page, absent on the last one.
   */
  async page(filter: AuditFilter, options: { before?: number; limit: number }): Promise<{ entries: AuditEntry[]; next?: number }> {
    checkLimit(options.limit, 1);
    const rows = await this.audit.query({ ...queryOf(filter), beforeSeq: options.before, order: 'desc', limit: options.limit + 1 });
    const more = rows.length > options.limit;
    const page = more ? rows.slice(0, options.limit) : rows;
    return { entries: page.map(auditEntry), ...(more ? { next: page.at(-1)!.seq } : {}) };
  }

  /** The record numbered `seq`, or AdminError('not_found'). */
  async get(seq: number): Promise<AuditEntry> {
    const [row] = await this.audit.scan(seq - 1, 1);
    if (!row || row.seq !== seq) throw new AdminError('not_found', `no audit record numbered ${seq}`);
    return auditEntry(row);
  }

  /** Records after `seq`, oldest first, at most one page: for following the chain as it grows. */
  async after(seq: number): Promise<AuditEntry[]> {
    return (await this.audit.query({ afterSeq: seq, order: 'asc', limit: AUDIT_PAGE })).map(auditEntry);
  }

  /** The seq of the newest record (0 for none). */
  async headSeq(): Promise<number> {
    return (await this.audit.head()).seq;
  }

  /** Every record (in the window, if given), oldest first, a page at a time. */
  async *all(window: AuditWindow = {}): AsyncGenerator<AuditEntry[]> {
    const filter = checkAuditWindow(window);
    const timed = filter.since !== undefined || filter.until !== undefined;
    let last = 0;
    for (;;) {
      const rows = timed ? await this.audit.query({ ...filter, afterSeq: last, order: 'asc', limit: AUDIT_PAGE }) : await this.audit.scan(last, AUDIT_PAGE);
      if (rows.length > 0) yield rows.map(auditEntry);
      last = rows.at(-1)?.seq ?? last;
      if (rows.length < AUDIT_PAGE) return;
    }
  }

  /** Checks that no stored record was changed, removed or reordered; `expectHead` also catches records cut from the end. */
  verify(options: Parameters<typeof verifyAuditChain>[1] = {}): Promise<VerifyResult> {
    return verifyAuditChain(this.audit, options);
  }
}
