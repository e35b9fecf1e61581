import { GatewayError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { SessionDirectory, SessionRecord } from '../../store/redis/sessions.js';
import { sessionNotFound } from './session-bindings.js';
import type { SessionProblem } from './upstream.js';

/**
 * How an upstream shares its sessions with the other gateway instances (store.redis): it records each session
 * it opens in the directory, keeps the record alive while the session is used here, and asks the directory
 * about a session id it does not know. Without it (one instance) an unknown id is simply not found.
 */
export class SharedSessions {
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly directory: SessionDirectory,
    /** This instance's id (audit.instance). */
    readonly instance: string,
    private readonly upstream: string,
    private readonly kind: 'http' | 'stdio',
    /** The directory's expiry: a session used here is touched at most every quarter of it. */
    private readonly ttlMs: number,
    private readonly log: Logger,
  ) {}

  /** Records a session this instance just opened; failures are logged (other instances then answer 404). */
  async opened(sessionId: string, owner: string): Promise<void> {
    const record: SessionRecord = { owner, upstream: this.upstream, instance: this.instance, kind: this.kind };
    try {
      await this.directory.bind(sessionId, record);
      this.touched.set(sessionId, Date.now());
    } catch (err) {
      this.log.warn({ upstream: this.upstream, err: (err as Error).message }, 'could not record a session for the other instances; they will answer it with 404');
    }
  }

  /** The session was used here: keeps its record from expiring (throttled, off the request path). */
  used(sessionId: string): void {
    const now = Date.now();
    const last = this.touched.get(sessionId);
    if (last !== undefined && now - last < this.ttlMs / 4) return;
    if (this.touched.size > 100_000) this.touched.clear();
    this.touched.set(sessionId, now);
    this.directory.touch(sessionId).catch(() => this.touched.delete(sessionId));
  }

  ended(sessionId: string): void {
    this.touched.delete(sessionId);
    this.directory.forget(sessionId).catch(() => {});
  }

  /**
   * A session id this instance does not know: the directory says whose it is and where it lives. Another
   * principal's, or one nobody knows: 404 as always. The caller's own, held by a stdio child on another
   * instance: 404 `session_on_other_instance` naming it. The caller's own HTTP-upstream session: undefined
   * (forward it: the upstream holds it), and `adopt` is called. Cannot tell: 503, never a guess.
   */
  async problem(sessionId: string, owner: string, adopt: () => void): Promise<SessionProblem | undefined> {
    let record: SessionRecord | undefined;
    try {
      record = await this.directory.lookup(sessionId);
    } catch {
      return {
        error: new GatewayError('shared_state_unavailable', 'Service unavailable: the gateway cannot check this session right now (its shared state is unreachable); retry shortly', { 'retry-after': '1' }),
        reason: 'session refused: shared state unavailable',
      };
    }
    if (!record || record.upstream !== this.upstream) return sessionNotFound('unknown');
    if (record.owner !== owner) return sessionNotFound('foreign');
    if (record.kind === 'stdio' && record.instance !== this.instance) {
      return {
        error: new GatewayError('session_on_other_instance', `Session not here: its server process runs on gateway instance '${record.instance}'. Send this client's requests to that instance (load-balancer affinity on Mcp-Session-Id, see docs/scaling.md), or initialize a new session`),
        reason: `session refused: it lives on instance ${record.instance}`,
      };
    }
    if (record.kind === 'stdio') return sessionNotFound('unknown'); // ours by the record, but its child is gone
    adopt();
    this.touched.set(sessionId, Date.now()); // the lookup refreshed its expiry
    return undefined;
  }
}
