import type { ConfigInput } from '../../src/config/index.js';
import { addUsers, OAUTH_AUTHORIZATION, PASSWORD, startOAuthGatewayForAttacks, type OAuthSetup } from './oauth.js';

/** Every body the admin tests received, so that a test can check no secret was ever shown twice. */
export const received: string[] = [];

export const ADMIN_AUTHORIZATION: ConfigInput['authorization'] = {
  scopes: OAUTH_AUTHORIZATION!.scopes,
  roles: { ...OAUTH_AUTHORIZATION!.roles, admin: [] },
};

/** The OAuth test gateway (stdio notes, HTTP web; alice writer, bob reader) with the console on (its per-IP limit lifted), and root (admin, writer). */
export async function startAdminGateway(admin: Record<string, unknown> = {}, extra: Partial<ConfigInput> = {}): Promise<OAuthSetup> {
  const setup = await startOAuthGatewayForAttacks({}, { authorization: ADMIN_AUTHORIZATION, admin: { roles: ['admin'], perIp: { requestsPerSecond: 100, burst: 1_000 }, ...admin }, ...extra });
  await addUsers(setup.dbPath, [['root', ['admin', 'writer']]]);
  return setup;
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/** An admin API client: a console session (cookie + CSRF token) or an API key. */
export class AdminClient {
  cookie: string | undefined;
  csrf: string | undefined;

  constructor(readonly base: string, readonly apiKey?: string) {}

  static async signIn(base: string, username = 'root', password = PASSWORD): Promise<AdminClient> {
    const client = new AdminClient(base);
    const answer = await client.signIn(username, password);
    if (answer.status !== 200) throw new Error(`sign-in failed: ${answer.status} ${answer.text}`);
    return client;
  }

  async signIn(username: string, password: string): Promise<Answer> {
    const answer = await this.send('POST', '/session', { username, password });
    const setCookie = answer.headers.get('set-cookie');
    if (answer.status === 200 && setCookie) {
      this.cookie = setCookie.split(';')[0];
      this.csrf = answer.json.csrf;
    }
    return answer;
  }

  /** `csrf: false` leaves the token out (a forged request). */
  async send(method: string, path: string, body?: unknown, options: { csrf?: boolean; headers?: Record<string, string> } = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...options.headers };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.cookie) headers.cookie = this.cookie;
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    if (this.csrf && options.csrf !== false && method !== 'GET') headers['x-csrf-token'] = this.csrf;
    const res = await fetch(`${this.base}/admin/api${path}`, { method, headers, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
    const text = await res.text();
    received.push(text);
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  }

  get(path: string) {
    return this.send('GET', path);
  }

  post(path: string, body: unknown = {}) {
    return this.send('POST', path, body);
  }
}

/** How many of the received bodies contain `secret`. */
export function timesShown(secret: string): number {
  return received.filter((t) => t.includes(secret)).length;
}
