import { basename } from 'node:path';

/**
 * The four questions of the decision framework, and what the answers decide: the scenario, the credential,
 * the limits. Pure: `warden init` asks, this decides, `template.ts` writes.
 */

export const USERS = { me: 'just me', team: 'my team', public: 'the public', company: 'our company' } as const;
export const COST = { low: 'little (my own data, easy to redo)', high: "serious (other people's data or money)", severe: 'severe (production systems, regulated data)' } as const;
export const WHERE = { local: 'this machine', internet: 'a server on the internet', company: 'inside the company network' } as const;
export const IDPS = { none: 'none', okta: 'Okta', entra: 'Microsoft Entra ID', keycloak: 'Keycloak', google: 'Google Workspace', other: 'another OIDC provider' } as const;

export interface Answers {
  users: keyof typeof USERS;
  cost: keyof typeof COST;
  where: keyof typeof WHERE;
  idp: keyof typeof IDPS;
  upstreams: UpstreamAnswer[];
  /** The https URL clients will use, when the gateway is reached over a network. */
  publicUrl?: string;
  /** The IdP's issuer identifier, when there is an IdP and it is known. */
  issuer?: string;
}

export interface UpstreamAnswer {
  name: string;
  /** stdio: the argv; HTTP: the url. */
  command?: string[];
  url?: string;
  /** Tool names known in advance (the bundled demo server's). */
  tools?: string[];
}

export type Scenario = 'local' | 'public' | 'enterprise';

export interface Plan extends Answers {
  scenario: Scenario;
  auth: 'none' | 'apiKeys' | 'oauth';
  /** Why each choice was made: written into the file as comments. */
  reasons: { scenario: string; auth: string; limits: string };
}

/** The answers of `--scenario X --yes`: the typical deployment of that scenario. */
export function answersForScenario(scenario: Scenario): Omit<Answers, 'upstreams'> {
  if (scenario === 'public') return { users: 'public', cost: 'high', where: 'internet', idp: 'none' };
  if (scenario === 'enterprise') return { users: 'company', cost: 'high', where: 'company', idp: 'other' };
  return { users: 'me', cost: 'low', where: 'local', idp: 'none' };
}

export function decide(answers: Answers): Plan {
  // The enterprise scenario trusts the company IdP (auth.jwt): without one, a company deployment is protected
  // the public scenario's way, with API keys.
  const scenario: Scenario = answers.where === 'local' && answers.users === 'me' ? 'local'
    : (answers.where === 'company' || answers.users === 'company') && answers.idp !== 'none' ? 'enterprise' : 'public';
  const reasons = {
    scenario: scenario === 'local'
      ? 'only you, on this machine: loopback only, no credential ceremony; the allow-list and the audit log guard against the servers themselves'
      : scenario === 'public' && answers.where === 'company'
        ? `${USERS[answers.users]}, inside the company network, without a company IdP: every caller authenticates, with rate limits per address, user and key (the enterprise scenario trusts an IdP: run warden init --idp … once there is one)`
        : scenario === 'public'
        ? `${USERS[answers.users]}, reached over the internet: every caller authenticates, with rate limits per address, user and key`
        : `${USERS[answers.users]}, inside the company network: every caller authenticates; insiders are callers too`,
    auth: '',
    limits: answers.cost === 'severe'
      ? 'unauthorised access would be severe: short token lifetimes, tighter limits, every commit synced to disk'
      : 'the scenario defaults',
  };
  let auth: Plan['auth'];
  if (scenario === 'local') {
    auth = 'none';
    reasons.auth = 'none: the gateway refuses to listen beyond loopback without authentication';
  } else if (answers.idp !== 'none' || answers.users === 'public') {
    auth = 'oauth';
    reasons.auth = answers.idp !== 'none'
      ? `${IDPS[answers.idp]} exists: its tokens are accepted (auth.jwt, issuer, keys and audience checked), and MCP clients get gateway tokens bound to one upstream from the embedded authorization server`
      : 'many people, each with their own identity: they sign in at the gateway (OAuth 2.1, PKCE) and their MCP client gets tokens for one upstream';
  } else {
    auth = 'apiKeys';
    reasons.auth = 'a known set of people and services: API keys, hashed, scoped, expiring, rotatable and revocable (warden keys)';
  }
  return { ...answers, scenario, auth, reasons };
}

/** `name=...`, a URL, or a command line: one upstream. */
export function parseUpstream(text: string, demoServer: string): UpstreamAnswer {
  const m = /^([A-Za-z0-9][A-Za-z0-9_-]{0,62})=(.+)$/.exec(text.trim());
  const spec = (m ? m[2]! : text).trim();
  if (spec === 'demo') return { name: m?.[1] ?? 'notes', command: ['node', demoServer], tools: ['add_note', 'list_notes', 'search_notes', 'get_note'] };
  if (/^https?:\/\//.test(spec)) {
    const url = new URL(spec);
    return { name: m?.[1] ?? upstreamName(url.hostname.split('.')[0] === 'localhost' || /^[\d.]+$/.test(url.hostname) ? url.pathname.split('/').filter((p) => p && p !== 'mcp').pop() ?? 'remote' : url.hostname.split('.')[0]!), url: spec };
  }
  const command = splitCommand(spec);
  if (command.length === 0) throw new Error('an upstream is a URL (http://...) or a command line');
  const pkg = command.find((a, i) => i > 0 && !a.startsWith('-')) ?? command[0]!;
  return { name: m?.[1] ?? upstreamName(basename(pkg.replace(/@[^/@]*$/, '').replace(/^@[^/]+\//, ''))), command };
}

function upstreamName(raw: string): string {
  const name = raw.replace(/^(mcp-server-|server-)/, '').replace(/(-mcp|-server|\.js|\.py)$/, '').replace(/[^A-Za-z0-9_-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 63);
  return name || 'server';
}

/** A command line split like a shell would for plain words and quotes (no variables, no globbing). */
export function splitCommand(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (const m of line.matchAll(re)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2] ?? m[3]!);
  return out;
}
