import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfigInput } from '../../src/config/index.js';
import { UserDirectory } from '../../src/authorization-server/index.js';
import { startGateway, type TestGateway } from './gateway.js';
import { startHttpUpstream, notesServerCommand, type RunningHttpUpstream } from './upstreams.js';
import { readAnswer, type HttpAnswer } from './client.js';
import { withStore } from './store.js';
import { parseAuditRow, type ChainedAuditRecord } from '../../src/audit/index.js';

export const PASSWORD = 'correct horse battery staple';

export const OAUTH_AUTHORIZATION: ConfigInput['authorization'] = {
  scopes: {
    'notes:read': { upstreams: ['notes'], description: 'Read your notes', tools: ['list_notes', 'search_notes', 'get_note'], resources: ['note://*'] },
    'notes:write': { upstreams: ['notes'], description: 'Change your notes', tools: ['add_note', 'delete_note'] },
    'echo:use': { upstreams: ['web'], tools: ['echo'] },
  },
  roles: { reader: ['notes:read', 'echo:use'], writer: ['notes:read', 'notes:write', 'echo:use'] },
};

export interface OAuthSetup {
  gw: TestGateway;
  web: RunningHttpUpstream;
  dbPath: string;
  /** http://127.0.0.1:PORT, the issuer. */
  issuer: string;
  notes: string;
  webResource: string;
  close(): Promise<void>;
}

/** A gateway with the embedded AS on, two upstreams (stdio notes, HTTP web), and users alice (writer) and bob (reader). */
export async function startOAuthGateway(oauth: Record<string, unknown> = {}, extra: Partial<ConfigInput> = {}): Promise<OAuthSetup> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-oauth-'));
  const dbPath = join(dir, 'warden.db');
  await addUsers(dbPath, [['alice', ['writer']], ['bob', ['reader']]]);
  const web = await startHttpUpstream({ stateful: true, json: false });
  const gw = await startGateway({
    auth: { oauth, apiKeys: {} },
    store: { sqlite: dbPath },
    authorization: OAUTH_AUTHORIZATION,
    upstreams: { notes: { command: notesServerCommand() }, web: { url: web.url } },
    ...extra,
  }, [PASSWORD], { configuredAudit: true });
  return {
    gw, web, dbPath, issuer: gw.url, notes: `${gw.url}/mcp/notes`, webResource: `${gw.url}/mcp/web`,
    close: async () => {
      await gw.close();
      await web.close();
    },
  };
}

/**
 * startOAuthGateway with the per-IP limits (requests, registrations, sign-ins) lifted, for files that register
 * many clients and sign in many times from one address (the limits' own tests start gateways of their own).
 */
export function startOAuthGatewayForAttacks(oauth: Record<string, unknown> = {}, extra: Partial<ConfigInput> = {}): Promise<OAuthSetup> {
  return startOAuthGateway({
    registration: { perIp: { requestsPerSecond: 100, burst: 1_000 } },
    login: { perIp: { requestsPerSecond: 100, burst: 1_000 } },
    ...oauth,
  }, { rateLimit: { perIp: { requestsPerSecond: 1_000, burst: 10_000 }, failedAuthPerIp: { requestsPerSecond: 1_000, burst: 10_000 } }, ...extra });
}

export async function addUsers(dbPath: string, users: [string, string[]][]): Promise<void> {
  await withStore(dbPath, async (store) => {
    const directory = new UserDirectory(store.users);
    for (const [username, roles] of users) await directory.add({ username, password: PASSWORD, roles });
  });
}

export { withStore };

/** Every record of the audit chain in the store at `dbPath`, oldest first. */
export async function auditRecords(dbPath: string): Promise<ChainedAuditRecord[]> {
  return withStore(dbPath, async (store) => (await store.audit.query({})).map(parseAuditRow));
}

/** Polls `probe` until it returns something (audit records, for one, are committed on a later turn of the event loop). */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A minimal browser: follows redirects by hand, keeps cookies, fills in the login and consent forms the
 * gateway serves. Stops at the first redirect to `stopAt` (the client's redirect URI) and returns it.
 */
export class FormBrowser {
  readonly cookies = new Map<string, string>();
  readonly pages: { url: string; status: number; html: string }[] = [];

  /** `headers` go with every request, e.g. X-Forwarded-For to stand at another address behind `http.trustProxy`. */
  constructor(private readonly origin: string, private readonly headers: Record<string, string> = {}) {}

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private remember(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async request(url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<Response> {
    const res = await fetch(new URL(url, this.origin), {
      method: init.method ?? (init.form ? 'POST' : 'GET'),
      redirect: 'manual',
      headers: {
        ...this.headers,
        cookie: this.cookieHeader(),
        ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(init.form ? { body: new URLSearchParams(init.form).toString() } : {}),
    });
    this.remember(res);
    return res;
  }

  /**
   * From the authorization URL to the redirect back to the client: signs in as `username` and answers the
   * consent page with `decision`. Returns the final URL (with code or error).
   */
  async authorize(authorizationUrl: string, stopAt: string, who: { username: string; password?: string; decision?: 'allow' | 'deny' }): Promise<URL> {
    let next: { url: string; form?: Record<string, string> } = { url: authorizationUrl };
    for (let hop = 0; hop < 20; hop++) {
      const res = await this.request(next.url, next.form ? { form: next.form } : {});
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        const target = new URL(location, new URL(next.url, this.origin));
        if (target.href.startsWith(stopAt)) return target;
        next = { url: target.href };
        continue;
      }
      const html = await res.text();
      this.pages.push({ url: next.url, status: res.status, html });
      if (res.status !== 200) throw new Error(`page ${next.url} answered ${res.status}: ${html.slice(0, 500)}`);
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1]?.replace(/&amp;/g, '&');
      const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
      if (!action || !csrf) throw new Error(`no form on ${next.url}: ${html.slice(0, 300)}`);
      if (action.endsWith('/login')) next = { url: action, form: { csrf, username: who.username, password: who.password ?? PASSWORD } };
      else if (action.endsWith('/consent')) next = { url: action, form: { csrf, decision: who.decision ?? 'allow' } };
      else throw new Error(`unexpected form action ${action}`);
    }
    throw new Error('too many redirects');
  }
}

/** The redirect URI registerClient registers by default (nothing listens there: the redirect itself is the answer). */
export const REDIRECT = 'http://127.0.0.1:9999/callback';

export interface RegisteredClient {
  client_id: string;
  /** Set for a confidential client. */
  client_secret?: unknown;
  [k: string]: unknown;
}

/** An RFC 7591 registration of a public client (as MCP clients do), `metadata` overriding; the answer as it is. */
export async function register(issuer: string, metadata: Record<string, unknown> = {}): Promise<HttpAnswer> {
  const res = await fetch(`${issuer}/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: [REDIRECT], client_name: 'Test Client', token_endpoint_auth_method: 'none', ...metadata }),
  });
  return readAnswer(res);
}

/** register, which must answer 201: the registered client. */
export async function registerClient(issuer: string, metadata: Record<string, unknown> = {}): Promise<RegisteredClient> {
  const answer = await register(issuer, metadata);
  if (answer.status !== 201) throw new Error(`registration failed: ${answer.status} ${answer.text}`);
  return answer.json as RegisteredClient;
}
