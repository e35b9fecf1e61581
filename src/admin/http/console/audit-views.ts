import type { ChainedAuditRecord } from '../../../audit/index.js';
import { GlobSet } from '../../../shared/glob.js';
import * as s from '../api-schemas.js';
import { validate } from '../body.js';
import { barChart, timeChart, type Series } from './chart.js';
import { html, list, pager, table, time, type Html } from './html.js';
import type { View, ViewContext } from './views.js';

/** The overview (charts of recent calls), the audit trail with its filters and record detail, and what scopes open. */

const WINDOWS = { hour: { ms: 3_600_000, buckets: 12, label: 'last hour' }, day: { ms: 86_400_000, buckets: 24, label: 'last day' } } as const;
/** Records the overview reads at most: the charts say so when a busy period has more. */
const OVERVIEW_LIMIT = 10_000;

export async function overviewView({ services, query }: ViewContext): Promise<View> {
  const windowName = query.window === 'day' ? 'day' : 'hour';
  const w = WINDOWS[windowName];
  const now = Date.now();
  const since = now - w.ms;
  const { entries, more } = await services.audit.query({ event: 'call', since }, OVERVIEW_LIMIT);
  const calls = entries.map((e) => e.record).filter((r): r is ChainedAuditRecord => r !== undefined);
  const tally = (key: (r: ChainedAuditRecord) => string) => {
    const map = new Map<string, Series>();
    for (const r of calls) {
      const label = key(r);
      const row = map.get(label) ?? { label, allow: 0, deny: 0 };
      row[r.decision] += 1;
      map.set(label, row);
    }
    return [...map.values()].sort((a, b) => b.allow + b.deny - (a.allow + a.deny)).slice(0, 12);
  };
  const size = w.ms / w.buckets;
  const buckets: Series[] = Array.from({ length: w.buckets }, (_, i) => ({ label: new Date(since + i * size).toISOString().slice(11, 16), allow: 0, deny: 0 }));
  for (const r of calls) buckets[Math.min(w.buckets - 1, Math.floor((Date.parse(r.ts) - since) / size))]![r.decision] += 1;
  const denials = calls.filter((r) => r.decision === 'deny');
  const sessions = services.sessions.list();
  const keys = await services.keys.list();
  const soon = now + 7 * 86_400_000;
  const expiring = keys.filter((k) => k.status === 'active' && k.expiresAt !== null && k.expiresAt < soon);
  const toolCalls = calls.filter((r) => r.targetKind === 'tool');
  const body = html`<nav aria-label="Period" class="pager">${(['hour', 'day'] as const).map((n) => (n === windowName ? html`<strong>${WINDOWS[n].label}</strong>` : html`<a href="/admin?window=${n}">${WINDOWS[n].label}</a>`))}</nav>
<ul class="cards"><li><strong>${calls.length}${more ? '+' : ''}</strong>calls, ${w.label}</li><li><strong class="${denials.length ? 'deny' : ''}">${denials.length}</strong>denied</li>
<li><strong>${sessions.length}</strong><a href="/admin/sessions">live sessions</a></li><li><strong>${expiring.length}</strong>keys expiring within 7 days</li></ul>
${timeChart('over-time', `Calls over the ${w.label} (blue: allowed, red: denied)`, buckets)}
${barChart('per-upstream', `Calls per upstream, ${w.label}`, tally((r) => r.upstream ?? '—'))}
${barChart('per-tool', `Calls per tool, ${w.label}`, tallyOf(toolCalls))}
<h2>Recent denials</h2>
${auditTable(denials.slice(-10).reverse(), 'Recent denials', 'No call was denied in this period.')}
<h2>Keys expiring soon</h2>
${table('Keys expiring within 7 days', [
    { label: 'Key', cell: (k: (typeof expiring)[number]) => html`<a href="/admin/keys/show?id=${k.id}"><code>${k.id}</code></a>` },
    { label: 'Subject', cell: (k) => k.subject },
    { label: 'Expires', cell: (k) => time(k.expiresAt) },
  ], expiring, 'No key expires within 7 days.')}`;
  return { title: 'Overview', section: '/', body };

  function tallyOf(records: ChainedAuditRecord[]): Series[] {
    const map = new Map<string, Series>();
    for (const r of records) {
      const label = `${r.upstream ?? '—'} / ${r.target ?? '—'}`;
      const row = map.get(label) ?? { label, allow: 0, deny: 0 };
      row[r.decision] += 1;
      map.set(label, row);
    }
    return [...map.values()].sort((a, b) => b.allow + b.deny - (a.allow + a.deny)).slice(0, 12);
  }
}

function auditTable(records: ChainedAuditRecord[], caption: string, empty: string): Html {
  return table(caption, [
    { label: '#', cell: (r: ChainedAuditRecord) => html`<a href="/admin/audit/record?seq=${r.seq}&amp;instance=${encodeURIComponent(r.instance)}" aria-label="Record ${r.seq} of ${r.instance}">${r.seq}</a>` },
    { label: 'Time', cell: (r) => time(r.ts) },
    { label: 'Event', cell: (r) => r.event },
    { label: 'Subject', cell: (r) => r.subject },
    { label: 'Upstream', cell: (r) => r.upstream ?? '' },
    { label: 'Method', cell: (r) => r.method },
    { label: 'Target', cell: (r) => r.target ?? '' },
    { label: 'Decision', cell: (r) => html`<span class="${r.decision}">${r.decision}</span>` },
    { label: 'Reason', cell: (r) => r.reason },
  ], records, empty);
}

export async function auditView({ services, query, config }: ViewContext): Promise<View> {
  // Verifying walks the whole chain (about 5 ms per 1,000 records): only when asked, not on every view.
  const { verify, ...rest } = query;
  const raw = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== ''));
  // The form's datetime-local fields carry no zone: they are read as UTC, as the table shows times.
  for (const k of ['since', 'until']) if (raw[k] && /^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(raw[k]!)) raw[k] = `${raw[k]}Z`;
  const q = validate(s.auditQuery, raw, 'query');
  const { tool, limit, cursor, ...filter } = q;
  const result = await services.audit.page({ ...filter, ...(tool !== undefined ? { target: tool } : {}) }, { limit: limit ?? 50, ...(cursor !== undefined ? { before: cursor } : {}) });
  const records = result.entries.map((e) => e.record).filter((r): r is ChainedAuditRecord => r !== undefined);
  const chain = verify === '1' ? await services.audit.verify() : undefined;
  const select = (name: string, options: string[], value: string | undefined) => html`<select name="${name}" id="f-${name}"><option value="">any</option>${options.map((o) => html`<option${o === value ? html` selected` : ''}>${o}</option>`)}</select>`;
  const body = html`${chain ? html`<p class="${chain.ok ? 'notice' : 'error'}" role="status">Chain: ${chain.ok ? `intact (${chain.records} records verified)` : `BROKEN — ${JSON.stringify(chain)}`}</p>` : html`<p><a href="/admin/audit?verify=1">Check the chain now</a> (that no record was changed, removed or reordered)</p>`}
<form class="filters" method="get" action="/admin/audit" role="search" aria-label="Filter audit records">
<label>Subject <input name="subject" value="${raw.subject ?? ''}" autocomplete="off"></label>
<label for="f-upstream">Upstream ${select('upstream', Object.keys(config.upstreams), raw.upstream)}</label>
<label>Tool, resource or prompt <input name="tool" value="${raw.tool ?? ''}" autocomplete="off"></label>
<label for="f-decision">Decision ${select('decision', ['allow', 'deny'], raw.decision)}</label>
<label for="f-event">Event ${select('event', ['call', 'authentication', 'outcome', 'admin', 'oauth'], raw.event)}</label>
<label>Since (UTC) <input type="datetime-local" name="since" value="${(raw.since ?? '').slice(0, 16)}"></label>
<label>Until (UTC) <input type="datetime-local" name="until" value="${(raw.until ?? '').slice(0, 16)}"></label>
<button type="submit">Search</button></form>
${auditTable(records, 'Audit records, newest first', 'No record matches these filters.')}
${pager('/audit', { subject: raw.subject, upstream: raw.upstream, tool: raw.tool, decision: raw.decision, event: raw.event, since: raw.since, until: raw.until, cursor: raw.cursor }, result.next === undefined ? undefined : String(result.next))}
<p><a href="/admin/api/audit/export">Export all records (JSON lines)</a></p>`;
  return { title: 'Audit trail', section: '/audit', body };
}

export async function auditRecordView({ services, query }: ViewContext): Promise<View> {
  const seq = s.seqParam.safeParse(query.seq);
  // The instance names the chain: with several instances, several chains have a record numbered so.
  const instance = typeof query.instance === 'string' ? query.instance : undefined;
  const entry = await services.audit.get(seq.success ? seq.data : 0, instance);
  const r = entry.record;
  const rows = r ? Object.entries(r).map(([k, v]) => html`<dt>${k}</dt><dd>${typeof v === 'object' ? JSON.stringify(v) : String(v)}</dd>`) : html`<dt>state</dt><dd>unreadable: run the chain check</dd>`;
  return { title: `Audit record ${entry.row.seq}`, section: '/audit', body: html`<dl class="record">${rows}</dl><p><a href="/admin/audit">Back to the audit trail</a></p>` };
}

export async function scopesView({ config, backend }: ViewContext & { backend: { liveTools?: () => Promise<Record<string, string[] | { error: string }>> } }): Promise<View> {
  const live = backend.liveTools ? await backend.liveTools() : {};
  const { scopes, roles } = config.authorization;
  const upstreamsOf = (scope: string) => scopes[scope]?.upstreams ?? Object.keys(config.upstreams);
  const opens = (scope: string) => {
    const spec = scopes[scope]!;
    const globs = new GlobSet(spec.tools);
    return upstreamsOf(scope).map((u) => {
      const tools = live[u];
      const found = Array.isArray(tools) ? tools.filter((t) => globs.matches(t)) : undefined;
      return html`<li><strong>${u}</strong>: ${found ? list(found) : html`<span class="muted">${tools && !Array.isArray(tools) ? `could not list tools (${tools.error})` : 'not listed'}</span>`} <span class="muted">(patterns: ${spec.tools.join(', ') || 'none'})</span></li>`;
    });
  };
  const body = html`<p>Tools each scope opens, read from the upstreams' current tool lists and matched against the configured patterns (authorization.scopes).</p>
${Object.keys(scopes).map((name) => html`<h2>${name}</h2>${scopes[name]!.description ? html`<p>${scopes[name]!.description}</p>` : ''}<ul>${opens(name)}</ul>`)}
<h2>Roles</h2>${table('Roles and the scopes they grant', [
    { label: 'Role', cell: (r: [string, string[]]) => r[0] },
    { label: 'Scopes', cell: (r) => list(r[1]) },
    { label: 'Console', cell: (r) => (config.admin?.roles.includes(r[0]) ? 'administrator' : '') },
  ], Object.entries(roles), 'No role is defined.')}`;
  return { title: 'Scopes and roles', section: '/scopes', body };
}
