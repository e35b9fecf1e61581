import { createHash } from 'node:crypto';
import { readBounded } from '../shared/bounded-body.js';

/**
 * RFC 7662 token introspection for opaque IdP access tokens, with a short cache: the IdP is asked once per
 * token per `cacheTtl` (never past the token's exp), so a client's calls do not each cost a round trip,
 * while a token revoked at the IdP is refused within `cacheTtl`. Cached by a digest of the token, so the
 * cache holds no credential.
 */

export interface IntrospectionOptions {
  url: string;
  clientId: string;
  clientSecret: string;
  cacheTtlMs: number;
  now?: () => number;
}

/** The IdP's answer: `active` plus whatever claims it returned. */
export type IntrospectionAnswer = Record<string, unknown> & { active: boolean };

export class IntrospectionUnavailable extends Error {
  readonly code = 'idp_introspection_unavailable';
}

const CACHE_MAX = 4096;
const TIMEOUT_MS = 5_000;
const MAX_ANSWER_BYTES = 64 * 1024;

export class IntrospectionClient {
  private readonly cache = new Map<string, { answer: IntrospectionAnswer; until: number }>();
  private readonly now: () => number;
  private readonly authorization: string;

  constructor(private readonly options: IntrospectionOptions) {
    this.now = options.now ?? Date.now;
    // RFC 6749 §2.3.1: both parts form-urlencoded before base64.
    this.authorization = `Basic ${Buffer.from(`${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`).toString('base64')}`;
  }

  async introspect(token: string): Promise<IntrospectionAnswer> {
    const key = createHash('sha256').update(token).digest('base64url');
    const now = this.now();
    const hit = this.cache.get(key);
    if (hit && now < hit.until) return hit.answer;
    if (hit) this.cache.delete(key);
    const answer = await this.ask(token);
    const exp = typeof answer.exp === 'number' ? answer.exp * 1000 : Infinity;
    const until = Math.min(now + this.options.cacheTtlMs, exp);
    if (until > now) {
      if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, { answer, until });
    }
    return answer;
  }

  private async ask(token: string): Promise<IntrospectionAnswer> {
    let res: Response;
    try {
      res = await fetch(this.options.url, {
        method: 'POST',
        redirect: 'error',
        headers: { authorization: this.authorization, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      const e = err as Error;
      throw new IntrospectionUnavailable(`${this.options.url}: ${e.name === 'TimeoutError' ? 'no answer in time' : (e.cause as Error | undefined)?.message ?? e.message}`);
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new IntrospectionUnavailable(`${this.options.url} answered ${res.status}${res.status === 401 ? ' (check the introspection clientId and clientSecret)' : ''}`);
    }
    let answer: unknown;
    try {
      answer = JSON.parse(await readBounded(res, MAX_ANSWER_BYTES));
    } catch (err) {
      throw new IntrospectionUnavailable(`${this.options.url} answered something that is not a JSON object (${(err as Error).message})`);
    }
    if (answer === null || typeof answer !== 'object' || Array.isArray(answer) || typeof (answer as { active?: unknown }).active !== 'boolean') {
      throw new IntrospectionUnavailable(`${this.options.url} answered without a boolean 'active' (RFC 7662 §2.2)`);
    }
    return answer as IntrospectionAnswer;
  }
}
