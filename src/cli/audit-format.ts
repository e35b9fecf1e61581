import type { ChainedAuditRecord } from '../audit/index.js';
import type { AuditRow } from '../store/index.js';

/** How `warden audit` shows records: one human line each, JSON lines, or CSV rows. */

export function clean(text: string, max = 80): string {
  const safe = text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '?');
  return safe.length > max ? `${safe.slice(0, max - 1)}…` : safe;
}

const EVENT_LABEL: Record<string, string> = { call: 'call', authentication: 'auth', outcome: 'outcome', admin: 'admin' };

/** `2026-11-22T19:37:35.123Z      #42 allow call    alice  tools/call notes:search_notes (scope notes:read) 200 12ms` */
export function humanLine(row: AuditRow, r: ChainedAuditRecord | undefined): string {
  const seq = `#${row.seq}`.padStart(8);
  if (!r) return `${' '.repeat(24)} ${seq} ?     record unreadable (run \`warden audit verify\`)`;
  const decision = r.decision === 'deny' ? 'DENY ' : 'allow';
  const event = clean(EVENT_LABEL[r.event] ?? String(r.event), 16).padEnd(7);
  const target = [r.upstream, r.target].filter((p) => p !== undefined && p !== '').map((p) => clean(String(p))).join(':');
  const parts = [clean(String(r.ts), 30), seq, decision, event, clean(String(r.subject), 40).padEnd(12), clean(String(r.method), 40)];
  if (target) parts.push(target);
  if (r.actor) parts.push(`(for ${clean(r.actor, 40)})`);
  parts.push(`(${clean(String(r.reason), 120)})`);
  if (r.status !== undefined) parts.push(String(r.status));
  if (r.latencyMs !== undefined) parts.push(`${r.latencyMs}ms`);
  if (r.error) parts.push(`error=${clean(r.error, 40)}`);
  return parts.join(' ');
}

/** JSON escapes C0 controls itself; C1 and bidi controls are escaped too, which leaves the JSON equal. */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export const CSV_COLUMNS = [
  'seq', 'ts', 'instance', 'event', 'requestId', 'subject', 'tenant', 'clientId', 'credentialKind', 'credentialId', 'actor',
  'upstream', 'method', 'target', 'targetKind', 'decision', 'reason', 'status', 'latencyMs', 'error', 'ip', 'userAgent', 'prevHash', 'hash',
] as const;

export function csvRow(cells: readonly unknown[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

/** RFC 4180: a cell with a comma, quote or line break is quoted, quotes doubled. */
export function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  let text = typeof value === 'string' ? value : String(value);
  // Spreadsheets execute a cell that starts with = + - @ (or tab/CR, which they strip first) as a formula,
  // and callers choose subjects, targets and user agents: a leading quote makes such a cell plain text.
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRecord(row: AuditRow, r: ChainedAuditRecord | undefined): string {
  if (!r) return csvRow(CSV_COLUMNS.map((c) => (c === 'seq' ? row.seq : c === 'prevHash' ? row.prevHash : c === 'hash' ? row.hash : c === 'reason' ? 'unreadable record' : '')));
  const flat: Record<(typeof CSV_COLUMNS)[number], unknown> = {
    seq: r.seq, ts: r.ts, instance: r.instance, event: r.event, requestId: r.requestId, subject: r.subject, tenant: r.tenant,
    clientId: r.clientId, credentialKind: r.credential?.kind, credentialId: r.credential?.id, actor: r.actor, upstream: r.upstream,
    method: r.method, target: r.target, targetKind: r.targetKind, decision: r.decision, reason: r.reason, status: r.status,
    latencyMs: r.latencyMs, error: r.error, ip: r.ip, userAgent: r.userAgent, prevHash: r.prevHash, hash: r.hash,
  };
  return csvRow(CSV_COLUMNS.map((c) => flat[c]));
}
