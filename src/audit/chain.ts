import { createHash } from 'node:crypto';
import type { AuditRow, AuditSeal } from '../store/types.js';
import type { AuditRecord, ChainedAuditRecord } from './record.js';

/** The hash the first record of a chain follows. */
export const GENESIS_HASH = '0'.repeat(64);

export type AuditChainErrorCode = 'not_serializable' | 'corrupt_row' | 'closed';

export class AuditChainError extends Error {
  constructor(readonly code: AuditChainErrorCode, message: string) {
    super(message);
    this.name = 'AuditChainError';
  }
}

/**
 * One text per value, whoever serializes it: object keys sorted (by UTF-16 code unit) at every level, no
 * whitespace, numbers and strings as JSON.stringify writes them. That is RFC 8785 (JCS) for the values an
 * audit record holds, so a verifier in another language can rebuild a body from its parsed record.
 * Refuses what JSON cannot carry faithfully (NaN, Infinity, bigint, functions, cycles) rather than writing
 * a body that would not parse back to the same record.
 */
export function canonicalJson(value: unknown): string {
  try {
    return serialize(value, new Set());
  } catch (err) {
    throw located(err);
  }
}

/**
 * Thrown at the value that cannot be serialized; each enclosing level adds its key while the stack unwinds,
 * so that the common case (nothing wrong) builds no path strings. It runs for every audit record.
 */
class Unserializable {
  readonly path: string[] = [];
  constructor(readonly what: string) {}
}

function located(err: unknown): unknown {
  if (!(err instanceof Unserializable)) return err;
  return new AuditChainError('not_serializable', `$${[...err.path].reverse().join('')} ${err.what}`);
}

function serialize(value: unknown, open: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new Unserializable(`is ${value}, which JSON cannot hold`);
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      break;
    default:
      throw new Unserializable(`is a ${typeof value}, which JSON cannot hold`);
  }
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return serialize(withJson.toJSON(), open);
  if (open.has(value)) throw new Unserializable('refers to itself');
  open.add(value);
  let text: string;
  if (Array.isArray(value)) {
    text = '[';
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      // As JSON.stringify does: an array keeps its length, a hole or undefined becomes null.
      try {
        text += `${i ? ',' : ''}${item === undefined ? 'null' : serialize(item, open)}`;
      } catch (err) {
        if (err instanceof Unserializable) err.path.push(`[${i}]`);
        throw err;
      }
    }
    text += ']';
  } else {
    text = `{${members(value as Record<string, unknown>, open).parts.join(',')}}`;
  }
  open.delete(value);
  return text;
}

interface Members {
  /** Sorted. */
  keys: string[];
  /** `"key":value` for each of `keys`. */
  parts: string[];
}

/** An object's own defined properties, sorted by key, each as canonical `"key":value` text. */
function members(object: Record<string, unknown>, open: Set<object>, skip?: ReadonlySet<string>): Members {
  const keys: string[] = [];
  const parts: string[] = [];
  // Without a comparator, sort compares strings by UTF-16 code unit, which is what RFC 8785 asks.
  for (const key of Object.keys(object).sort()) {
    if (skip?.has(key)) continue;
    const v = object[key];
    if (v === undefined) continue;
    try {
      parts.push(`${quoteKey(key)}:${serialize(v, open)}`);
    } catch (err) {
      if (err instanceof Unserializable) err.path.push(`.${key}`);
      throw err;
    }
    keys.push(key);
  }
  return { keys, parts };
}

const PLAIN_KEY = /^[A-Za-z0-9_$@-]*$/;

/** JSON.stringify(key), without its cost for the plain keys that audit records use. */
function quoteKey(key: string): string {
  return PLAIN_KEY.test(key) ? `"${key}"` : JSON.stringify(key);
}

/** Set by the chain, never taken from the record: a record cannot claim its own place or hash. */
const CHAIN_FIELDS: ReadonlySet<string> = new Set(['seq', 'prevHash', 'hash']);

/**
 * A record serialized ahead of its seal. The chain writer prepares records when they are appended, so that
 * a record that cannot be serialized is refused alone instead of failing the whole batch it would join,
 * and the write transaction (which holds the file's lock) only splices in seq and prevHash.
 */
export class PreparedAuditRecord {
  private constructor(readonly record: AuditRecord, private readonly members: Members) {}

  static of(record: AuditRecord): PreparedAuditRecord {
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      throw new AuditChainError('not_serializable', 'an audit record must be an object');
    }
    try {
      return new PreparedAuditRecord(record, members(record as unknown as Record<string, unknown>, new Set([record]), CHAIN_FIELDS));
    } catch (err) {
      throw located(err);
    }
  }

  /** canonicalJson({ ...record, seq, prevHash }), by merging the two chain members into the sorted ones. */
  body(seq: number, prevHash: string): string {
    const { keys, parts } = this.members;
    const chain: Array<[string, string]> = [['prevHash', `"prevHash":${JSON.stringify(prevHash)}`], ['seq', `"seq":${JSON.stringify(seq)}`]];
    let text = '{';
    let c = 0;
    for (let i = 0; i < keys.length; i++) {
      while (c < chain.length && chain[c]![0] < keys[i]!) text += `${chain[c++]![1]},`;
      text += `${parts[i]},`;
    }
    while (c < chain.length) text += `${chain[c++]![1]},`;
    return `${text.slice(0, -1)}}`;
  }
}

/**
 * The chain's seal: body = canonicalJson({ ...record, seq, prevHash }), so the stored text names its own
 * position and its predecessor, and hash = hex SHA-256 of body. A `hash` property of the record (a chained
 * record appended again) is left out, since the body cannot contain its own hash.
 */
export const sealAuditRecord: AuditSeal = (seq, prevHash, record) => {
  if (!Number.isSafeInteger(seq)) throw new AuditChainError('not_serializable', `seq must be an integer, got ${seq}`);
  const prepared = record instanceof PreparedAuditRecord ? record : PreparedAuditRecord.of(record as AuditRecord);
  const body = prepared.body(seq, prevHash);
  return { body, hash: sha256Hex(body) };
};

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** A stored row as a record: the body's fields, with seq, prevHash and hash as the row holds them. */
export function parseAuditRow(row: AuditRow): ChainedAuditRecord {
  let body: unknown;
  try {
    body = JSON.parse(row.body);
  } catch {
    throw new AuditChainError('corrupt_row', `audit record ${row.seq} is not valid JSON`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new AuditChainError('corrupt_row', `audit record ${row.seq} is not a JSON object`);
  }
  return { ...(body as AuditRecord), seq: row.seq, prevHash: row.prevHash, hash: row.hash };
}
