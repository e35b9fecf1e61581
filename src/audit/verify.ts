import { LEGACY_AUDIT_CHAIN, type AuditAnchor, type AuditRow, type AuditStore } from '../store/types.js';
import { GENESIS_HASH, sha256Hex } from './chain.js';

export type VerifyProblemKind = 'changed' | 'removed' | 'reordered';

export type VerifyResult =
  | {
      ok: true;
      /** Rows checked. */
      records: number;
      /** The first stored seq, when there is a row. */
      first?: number;
      /**
       * The newest record (or the anchor when none is stored). Verification cannot see records cut from the
       * end of the chain, since nothing after them points back: an operator who keeps the head elsewhere
       * (a ticket, another system's log) and compares it later can.
       */
      head: AuditAnchor;
    }
  | {
      ok: false;
      records: number;
      problem: { seq: number; kind: VerifyProblemKind; detail: string };
    };

export interface VerifyOptions {
  /** Rows read per store call (default 1000): memory stays constant whatever the chain's length. */
  pageSize?: number;
  /** Called after each page with the number of rows checked so far. */
  onProgress?: (checked: number) => void;
  /**
   * A head recorded earlier, outside the store. The chain must still hold it: this is the one check that
   * sees records cut from the end, which leave no trace in what remains.
   */
  expectHead?: AuditAnchor;
}

type Problem = Extract<VerifyResult, { ok: false }>['problem'];

/**
 * Walks the stored chain from its anchor in seq order and reports the first place where it is not the chain
 * that was written: a record whose text no longer matches its hash (`changed`), a missing seq (`removed`),
 * or a record stored at a position its text does not name (`reordered`). A record edited and re-hashed is
 * caught by its successor, whose prevHash still names the old hash.
 */
export async function verifyAuditChain(store: AuditStore, instance: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  const pageSize = options.pageSize ?? 1_000;
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new RangeError(`pageSize must be a positive integer, got ${pageSize}`);
  const anchor = await store.anchor(instance);
  let prev: AuditAnchor = anchor;
  let records = 0;
  let first: number | undefined;
  for (;;) {
    const page = await store.scan(instance, prev.seq, pageSize);
    for (const row of page) {
      const problem = checkRow(row, prev, anchor, records === 0);
      if (problem) return { ok: false, records, problem };
      records++;
      first ??= row.seq;
      prev = { seq: row.seq, hash: row.hash };
    }
    options.onProgress?.(records);
    if (page.length < pageSize) break;
  }
  if (options.expectHead) {
    const problem = await checkRecordedHead(store, instance, options.expectHead, anchor, prev);
    if (problem) return { ok: false, records, problem };
  }
  return first === undefined ? { ok: true, records, head: prev } : { ok: true, records, first, head: prev };
}

async function checkRecordedHead(store: AuditStore, instance: string, expected: AuditAnchor, anchor: AuditAnchor, head: AuditAnchor): Promise<Problem | undefined> {
  if (expected.seq === anchor.seq && expected.hash === anchor.hash) return undefined;
  if (expected.seq <= anchor.seq) return undefined; // pruned by retention since it was recorded: nothing left to compare
  const [row] = await store.scan(instance, expected.seq - 1, 1);
  if (!row || row.seq !== expected.seq) {
    return { seq: expected.seq, kind: 'removed', detail: `record ${expected.seq}, recorded as the head earlier, is gone: the chain now ends at ${head.seq}, so records were cut from its end` };
  }
  if (row.hash !== expected.hash) {
    return { seq: expected.seq, kind: 'changed', detail: `record ${expected.seq} no longer has the hash recorded for it earlier: the chain was rewritten from there on` };
  }
  return undefined;
}

function checkRow(row: AuditRow, prev: AuditAnchor, anchor: AuditAnchor, isFirst: boolean): Problem | undefined {
  let body: unknown;
  try {
    body = JSON.parse(row.body);
  } catch {
    return { seq: row.seq, kind: 'changed', detail: `record ${row.seq}: its stored text is no longer valid JSON` };
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { seq: row.seq, kind: 'changed', detail: `record ${row.seq}: its stored text is not a JSON object` };
  }
  const claims = body as { seq?: unknown; prevHash?: unknown; instance?: unknown };
  // A row moved into another instance's chain: its text names the instance that sealed it.
  if (row.instance !== LEGACY_AUDIT_CHAIN && claims.instance !== undefined && claims.instance !== row.instance) {
    return { seq: row.seq, kind: 'reordered', detail: `record ${row.seq} of ${row.instance}'s chain was written by ${String(claims.instance)}: it was moved from that instance's chain` };
  }
  if (typeof claims.seq !== 'number') {
    return { seq: row.seq, kind: 'changed', detail: `record ${row.seq}: its stored text names no seq` };
  }
  if (claims.seq !== row.seq) {
    return {
      seq: row.seq,
      kind: 'reordered',
      detail: `the record stored at seq ${row.seq} is record ${claims.seq}: it was moved from position ${claims.seq}`,
    };
  }
  if (claims.prevHash !== row.prevHash) {
    return { seq: row.seq, kind: 'changed', detail: `record ${row.seq}: its stored predecessor hash differs from the one its text was sealed with` };
  }
  if (sha256Hex(row.body) !== row.hash) {
    return { seq: row.seq, kind: 'changed', detail: `record ${row.seq}: its text does not match its hash (the record was edited after it was sealed)` };
  }
  if (row.seq !== prev.seq + 1) {
    const missing = row.seq - prev.seq - 1;
    const where = isFirst ? `the chain starts at ${row.seq}, but its anchor is ${anchor.seq}` : `record ${prev.seq} is followed by ${row.seq}`;
    return {
      seq: prev.seq + 1,
      kind: 'removed',
      detail: missing === 1 ? `record ${prev.seq + 1} is missing (${where})` : `records ${prev.seq + 1} to ${row.seq - 1} are missing (${where})`,
    };
  }
  if (row.prevHash !== prev.hash) {
    if (isFirst && anchor.seq === 0) {
      return {
        seq: row.seq,
        kind: 'changed',
        detail: `record ${row.seq} is the first of the chain but does not follow the genesis hash ${GENESIS_HASH.slice(0, 8)}…: it was rewritten`,
      };
    }
    if (isFirst) {
      return {
        seq: prev.seq,
        kind: 'changed',
        detail: `record ${row.seq} does not follow the anchor (record ${prev.seq}, the last one pruned): the anchor or the records after it were rewritten`,
      };
    }
    return {
      seq: prev.seq,
      kind: 'changed',
      detail: `record ${prev.seq} was changed and re-hashed: record ${row.seq} was sealed after a different version of it`,
    };
  }
  return undefined;
}

/** One chain's result, named by its instance. */
export type ChainVerifyResult = VerifyResult & { instance: string };

export interface VerifyAllResult {
  /** True when every chain verified (and every expected head was found). */
  ok: boolean;
  /** Rows checked, over all chains. */
  records: number;
  chains: ChainVerifyResult[];
}

export interface VerifyAllOptions extends Omit<VerifyOptions, 'expectHead'> {
  /** Heads recorded earlier, each for its instance's chain. */
  expectHeads?: Array<AuditAnchor & { instance: string }>;
}

/**
 * Verifies every instance's chain, one after the other, and reports each. A head expected for an instance
 * whose chain is gone entirely is reported as removed: its records were all deleted, anchor included.
 */
export async function verifyAuditChains(store: AuditStore, options: VerifyAllOptions = {}): Promise<VerifyAllResult> {
  const chains = await store.chains();
  const results: ChainVerifyResult[] = [];
  let checkedBefore = 0;
  for (const { instance } of chains) {
    const expectHead = options.expectHeads?.find((h) => h.instance === instance);
    const result = await verifyAuditChain(store, instance, {
      ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}),
      ...(options.onProgress ? { onProgress: (n: number) => options.onProgress!(checkedBefore + n) } : {}),
      ...(expectHead ? { expectHead: { seq: expectHead.seq, hash: expectHead.hash } } : {}),
    });
    checkedBefore += result.records;
    results.push({ instance, ...result });
  }
  for (const expected of options.expectHeads ?? []) {
    if (chains.some((c) => c.instance === expected.instance) || expected.seq === 0) continue;
    results.push({ instance: expected.instance, ok: false, records: 0, problem: { seq: expected.seq, kind: 'removed', detail: `the chain of ${expected.instance}, whose head was recorded as ${expected.seq}, is gone from the store` } });
  }
  return { ok: results.every((r) => r.ok), records: results.reduce((n, r) => n + r.records, 0), chains: results };
}
