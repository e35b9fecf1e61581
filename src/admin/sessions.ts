import { printable } from '../shared/text.js';
import { nowOf, recordOrFail, type AdminContext } from './context.js';
import { AdminError } from './errors.js';

/**
 * Live MCP sessions, as the upstreams that hold them report them. The admin services know nothing of
 * upstreams: the gateway hands in each one as a `LiveSessionSource`.
 */

export interface LiveSessionSource {
  readonly kind: string;
  liveSessions(): { id: string; owner: { subject: string; tenant: string | null; clientId: string | null }; lastActiveAt: number }[];
  endLiveSession(id: string): Promise<boolean>;
}

export interface SessionView {
  upstream: string;
  kind: string;
  id: string;
  subject: string;
  tenant: string | null;
  clientId: string | null;
  lastActiveAt: string;
}

export class SessionsAdmin {
  constructor(private readonly ctx: AdminContext, private readonly sources: ReadonlyMap<string, LiveSessionSource>) {}

  /** Sessions of this gateway instance, most recently active first. */
  list(filter: { upstream?: string; subject?: string } = {}): SessionView[] {
    if (filter.upstream !== undefined) this.source(filter.upstream);
    const views: SessionView[] = [];
    for (const [upstream, source] of this.sources) {
      if (filter.upstream !== undefined && upstream !== filter.upstream) continue;
      for (const s of source.liveSessions()) {
        if (filter.subject !== undefined && s.owner.subject !== filter.subject) continue;
        views.push({ upstream, kind: source.kind, id: s.id, ...s.owner, lastActiveAt: new Date(s.lastActiveAt).toISOString() });
      }
    }
    return views.sort((a, b) => b.lastActiveAt.localeCompare(a.lastActiveAt));
  }

  /** Ends one session (a stdio child stops); its owner must initialize again. Recorded. */
  async end(upstream: string, id: string): Promise<SessionView> {
    const session = this.list({ upstream }).find((s) => s.id === id);
    if (!session || !(await this.source(upstream).endLiveSession(id))) {
      throw new AdminError('not_found', `no live session ${printable(id)} on upstream ${printable(upstream)}; it may have ended already`, { kind: 'session', id });
    }
    await recordOrFail(this.ctx, { action: 'sessions.end', target: id, targetKind: 'session', reason: `session of ${session.subject} on upstream ${upstream} ended at ${new Date(nowOf(this.ctx)).toISOString()}` },
      'the session was ended');
    return session;
  }

  private source(upstream: string): LiveSessionSource {
    const source = this.sources.get(upstream);
    if (!source) throw new AdminError('invalid_input', `no upstream named ${printable(upstream)} (upstreams: ${[...this.sources.keys()].join(', ')})`);
    return source;
  }
}
