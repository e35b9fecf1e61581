import { readFileSync, existsSync } from 'node:fs';
import { resolve, dirname, isAbsolute } from 'node:path';
import { parseDocument, LineCounter, isMap, isSeq, type Document } from 'yaml';
import { configSchema, type JwtIssuerConfig, type WardenConfig } from './schema.js';
import { isPostgres } from './store-schema.js';
import { interpolate, type InterpolationIssue } from './interpolate.js';
import { applyScenarioDefaults, scenarioDefaultsApplied } from './presets.js';
import { explainIssue } from './issue-text.js';
import { isLoopbackHost } from '../shared/client-ip.js';
import { checkOAuthMtls } from './oauth-mtls.js';

export interface ConfigIssue {
  /** Dotted path inside the file, e.g. `upstreams.notes.url`; empty for the file as a whole. */
  path: string;
  message: string;
  /** 1-based line in the file, when the path exists there. */
  line?: number;
  /** Names a rule that spans fields (e.g. `listen_without_auth`), so `warden doctor` can report it by id. */
  rule?: string;
}

/** A configuration that cannot be used. The CLI prints `format()` and exits 2. */
export class ConfigError extends Error {
  readonly code = 'config_invalid';
  constructor(readonly file: string, readonly issues: ConfigIssue[]) {
    super(`invalid configuration in ${file}: ${issues.map((i) => `${i.path || '(file)'}: ${i.message}`).join('; ')}`);
    this.name = 'ConfigError';
  }

  format(): string {
    return this.issues
      .map((i) => `${this.file}${i.line ? `:${i.line}` : ''}: ${i.path ? `${i.path}: ` : ''}${i.message}`)
      .join('\n');
  }
}

export interface LoadedConfig {
  config: WardenConfig;
  file: string;
  /** The scenario's defaults the file did not override, as `path = value` lines. */
  scenarioDefaults: string[];
  /** Values that came from the environment: never to be logged. */
  secrets: Set<string>;
}

export function resolveConfigPath(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(explicit ?? env.WARDEN_CONFIG ?? 'warden.yaml');
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  if (!existsSync(file)) {
    throw new ConfigError(file, [{
      path: '',
      message: 'no such file; pass --config PATH, set WARDEN_CONFIG, or start from docs/config.md (`warden demo` needs no config)',
    }]);
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ path: '', message: `cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)}); pass --config PATH to a readable YAML file` }]);
  }
  const loaded = parseConfigText(text, file, env);
  // Relative paths in the file are relative to the file, not to wherever the gateway was started.
  const base = dirname(file);
  if (loaded.config.audit.file && !isAbsolute(loaded.config.audit.file)) loaded.config.audit.file = resolve(base, loaded.config.audit.file);
  const store = loaded.config.store;
  if (!isPostgres(store) && !isAbsolute(store.sqlite)) store.sqlite = resolve(base, store.sqlite);
  for (const u of Object.values(loaded.config.upstreams)) {
    if (u.cwd && !isAbsolute(u.cwd)) u.cwd = resolve(base, u.cwd);
    if (u.tls) for (const key of ['ca', 'cert', 'key'] as const) if (u.tls[key] && !isAbsolute(u.tls[key])) u.tls[key] = resolve(base, u.tls[key]);
  }
  const tls = loaded.config.listen.tls;
  if (tls) for (const key of ['cert', 'key', 'ca', 'clientCa', 'clientCrl'] as const) if (tls[key] && !isAbsolute(tls[key])) tls[key] = resolve(base, tls[key]);
  const mtls = loaded.config.auth !== 'none' ? loaded.config.auth.mtls : undefined;
  if (mtls?.ca && !isAbsolute(mtls.ca)) mtls.ca = resolve(base, mtls.ca);
  const cedar = loaded.config.authorization.cedar;
  if (cedar) for (const key of ['policies', 'schema', 'entities'] as const) if (cedar[key] && !isAbsolute(cedar[key])) cedar[key] = resolve(base, cedar[key]);
  return loaded;
}

/** Parses YAML (JSON is YAML too), interpolates `${VAR}`, applies scenario defaults and validates. */
export function parseConfigText(text: string, file = 'warden.yaml', env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((e) => ({
      path: '',
      message: `not valid YAML: ${e.message.split('\n')[0]}`,
      line: e.linePos?.[0]?.line ?? lines.linePos(e.pos[0]).line,
    })));
  }
  const raw: unknown = doc.toJS() ?? {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, [{ path: '', message: 'the file must be a mapping of settings (scenario, listen, upstreams, ...)' }]);
  }
  const secrets = new Set<string>();
  const interpolationIssues: InterpolationIssue[] = [];
  const interpolated = interpolate(raw, env, secrets, interpolationIssues) as Record<string, unknown>;
  const issues: ConfigIssue[] = interpolationIssues.map((i) => issueAt(doc, lines, i.path, i.message));

  // reportInput: an error can say what it got instead (its type; a string's value is never echoed, it may be a secret).
  const parsed = configSchema.safeParse(applyScenarioDefaults(interpolated), { reportInput: true });
  if (!parsed.success) {
    // A field whose ${VAR} is missing is reported once, for the variable, not again for its empty value.
    const covered = (path: (string | number)[]) => interpolationIssues.some((i) => samePrefix(i.path, path));
    for (const issue of parsed.error.issues) {
      const path = issue.path as (string | number)[];
      if (covered(path)) continue;
      if (issue.code === 'invalid_key') {
        issues.push(issueAt(doc, lines, path, issue.issues.map((i) => i.message).join('; ')));
      } else {
        // One line per unknown key (pointing at the key itself), the expected type named, a union explained.
        for (const text of explainIssue(issue, configSchema)) issues.push(issueAt(doc, lines, text.path, text.message));
      }
    }
  }
  if (issues.length > 0 || !parsed.success) throw new ConfigError(file, issues);
  const config = parsed.data;
  const semantic = checkSemantics(config).map((i) => {
    const at = { ...issueAt(doc, lines, i.path, i.message), ...(i.rule ? { rule: i.rule } : {}) };
    return at.line === undefined && i.path[0] === 'auth' ? { ...at, line: lineOf(doc, lines, ['scenario']) } : at;
  });
  if (semantic.length > 0) throw new ConfigError(file, semantic);
  return { config, file, secrets, scenarioDefaults: scenarioDefaultsApplied(interpolated) };
}

/** Rules that span fields. The fail-closed rules of the scenarios live here. */
type SemanticIssue = InterpolationIssue & { rule?: string };

function checkSemantics(config: WardenConfig): SemanticIssue[] {
  const issues: SemanticIssue[] = [];
  const { scopes, roles } = config.authorization;
  if (config.auth === 'none' && config.scenario !== 'local') {
    issues.push({
      path: ['auth'],
      rule: 'scenario_without_auth',
      message: `scenario '${config.scenario}' requires authentication, and 'none' is only for the local scenario; set auth: { apiKeys: {} } and create keys with \`warden keys create\``,
    });
  } else if (config.auth === 'none' && !isLoopbackHost(config.listen.host)) {
    issues.push({
      path: ['listen', 'host'],
      rule: 'listen_without_auth',
      message: `refusing to listen on ${config.listen.host} with auth: none, where anyone who can reach it could call your tools; listen on 127.0.0.1 (or ::1), or set auth: { apiKeys: {} }`,
    });
  }
  if (config.auth === 'none') {
    for (const [name, u] of Object.entries(config.upstreams)) {
      const { max, perPrincipal } = u.sessions;
      if (u.command && perPrincipal !== undefined && perPrincipal < max) {
        issues.push({
          path: ['upstreams', name, 'sessions', 'perPrincipal'],
          message: `with auth: none every caller is the one principal 'anonymous', so a cap of ${perPrincipal} would only lower sessions.max (${max}); remove perPrincipal, or lower sessions.max`,
        });
      }
    }
  }
  if (config.auth === 'none' && (Object.keys(scopes).length > 0 || Object.keys(roles).length > 0)) {
    issues.push({
      path: ['authorization'],
      message: 'authorization applies to authenticated callers, and auth is none; turn on auth, or restrict tools with upstreams.<name>.allow',
    });
  }
  if (config.auth !== 'none' && Object.keys(scopes).length === 0) {
    issues.push({
      path: ['authorization', 'scopes'],
      message: 'authentication is on but no scope is defined, so every call would be denied; define scopes, e.g. authorization: { scopes: { "notes:read": { tools: [search_notes] } } }',
    });
  }
  if (config.auth !== 'none' && config.auth.oauth) {
    const url = config.publicUrl ? new URL(config.publicUrl) : undefined;
    if (url && url.pathname !== '/') {
      issues.push({ path: ['publicUrl'], message: `the authorization server's issuer is the gateway's origin, and publicUrl has a path (${url.pathname}); serve the gateway at the root of its host` });
    }
    const host = url ? url.hostname : config.listen.host;
    if ((url ? url.protocol !== 'https:' : true) && !isLoopbackHost(host)) {
      issues.push({
        path: [url ? 'publicUrl' : 'listen', ...(url ? [] : ['host'])],
        rule: 'oauth_without_tls',
        message: 'OAuth needs TLS beyond loopback (passwords and tokens cross the network); put a TLS proxy in front and set publicUrl: https://<your host>',
      });
    }
  }
  if (config.scenario !== 'local' && credentialsOverPlainHttp(config) && !issues.some((i) => i.rule === 'oauth_without_tls')) {
    issues.push({
      path: ['listen', 'tls'],
      rule: 'credentials_over_http',
      message: `scenario '${config.scenario}' takes credentials, and ${config.listen.host} is beyond loopback over plain HTTP, where anyone on the path reads keys and tokens; set listen.tls: { cert, key } (docs/tls.md), or, with a TLS-terminating proxy in front, set http.trustProxy: 1 and publicUrl: https://<your host>`,
    });
  }
  if (config.auth !== 'none' && config.auth.mtls) issues.push(...checkMtls(config, config.auth.mtls));
  issues.push(...checkOAuthMtls(config));
  if (config.auth !== 'none' && config.auth.jwt) issues.push(...checkIssuers(config, config.auth.jwt.issuers));
  if (config.scenario === 'enterprise') issues.push(...checkEnterprise(config));
  if (config.admin) {
    if (config.auth === 'none') {
      issues.push({ path: ['admin'], message: 'the admin console signs in the gateway\'s own users and API keys, and auth is none; set auth: { apiKeys: {}, oauth: {} }, or remove admin' });
    }
    config.admin.roles.forEach((role, i) => {
      if (!(role in roles)) issues.push({ path: ['admin', 'roles', i], message: `admin role '${role}' is not defined in authorization.roles; define it (e.g. roles: { ${role}: [] }) and give it to the administrators` });
    });
    const url = config.publicUrl ? new URL(config.publicUrl) : undefined;
    if (config.admin.allowRemote && url?.protocol !== 'https:') {
      issues.push({ path: ['admin', 'allowRemote'], message: 'a console reachable beyond this machine needs TLS (passwords and session cookies cross the network); put a TLS proxy in front and set publicUrl: https://<your host>' });
    }
  }
  for (const [name, scope] of Object.entries(scopes)) {
    scope.upstreams?.forEach((u, i) => {
      if (!(u in config.upstreams)) issues.push({ path: ['authorization', 'scopes', name, 'upstreams', i], message: `no upstream is named '${u}'; configured: ${Object.keys(config.upstreams).join(', ')}` });
    });
  }
  for (const [role, granted] of Object.entries(roles)) {
    granted.forEach((scope, i) => {
      if (!(scope in scopes)) issues.push({ path: ['authorization', 'roles', role, i], message: `role '${role}' grants scope '${scope}', which authorization.scopes does not define` });
    });
  }
  return issues;
}

/** Client certificates need a source the gateway can trust, and roles that exist. */
function checkMtls(config: WardenConfig, mtls: NonNullable<Exclude<WardenConfig['auth'], 'none'>['mtls']>): SemanticIssue[] {
  const issues: SemanticIssue[] = [];
  if (!config.listen.tls?.clientCa && !mtls.header) {
    issues.push({ path: ['auth', 'mtls'], message: 'client certificates come from the TLS handshake or a proxy: set listen.tls.clientCa (the CA that issues them), or auth.mtls.header and auth.mtls.ca behind a TLS-terminating proxy' });
  }
  if (mtls.header && config.http.trustProxy === 0) {
    issues.push({ path: ['auth', 'mtls', 'header'], message: `anyone can send ${mtls.header}; it is trusted only from a TLS-terminating proxy in front: set http.trustProxy to the number of proxies, or remove auth.mtls.header` });
  }
  for (const [value, granted] of Object.entries(mtls.roles)) {
    granted.forEach((role, i) => {
      if (!(role in config.authorization.roles)) issues.push({ path: ['auth', 'mtls', 'roles', value, i], message: `certificate '${value}' maps to role '${role}', which authorization.roles does not define` });
    });
  }
  return issues;
}

/** The enterprise scenario's fail-closed rules (presets.ts SCENARIO_RULES says them in words). */
function checkEnterprise(config: WardenConfig): InterpolationIssue[] {
  const issues: InterpolationIssue[] = [];
  if (config.auth !== 'none' && !config.auth.jwt) {
    issues.push({ path: ['auth', 'jwt'], message: "scenario 'enterprise' trusts the company IdP; add auth.jwt: { issuers: [{ issuer: https://<your IdP> }] } (docs/enterprise.md), or use scenario: public" });
  }
  if (!config.audit.store && !config.audit.file && !config.audit.stdout) {
    issues.push({ path: ['audit', 'store'], message: "scenario 'enterprise' audits every decision; keep audit.store on, or send the records to audit.file or audit.stdout" });
  }
  const oauth = config.auth !== 'none' ? config.auth.oauth : undefined;
  if (oauth && !oauth.localPasswords && !(config.auth !== 'none' && config.auth.jwt?.issuers.some((i) => i.sso))) {
    issues.push({ path: ['auth', 'oauth', 'localPasswords'], message: "scenario 'enterprise' turns local passwords off, and no issuer signs people in; add use: [sso] and sso: { clientId, clientSecret } to an auth.jwt issuer, or set auth.oauth.localPasswords: true" });
  }
  if (config.metrics.public) {
    issues.push({ path: ['metrics', 'public'], message: "scenario 'enterprise' protects /metrics; set metrics.token: \"${METRICS_TOKEN}\" for a remote scraper instead" });
  }
  return issues;
}

/** Company IdPs: what they are trusted for must exist here, and their roles must map to roles that exist. */
function checkIssuers(config: WardenConfig, issuers: JwtIssuerConfig[]): InterpolationIssue[] {
  const issues: InterpolationIssue[] = [];
  const oauthOn = config.auth !== 'none' && config.auth.oauth !== undefined;
  issuers.forEach((idp, n) => {
    const at = ['auth', 'jwt', 'issuers', n];
    for (const use of idp.use) {
      if (use !== 'access-token' && !oauthOn) {
        issues.push({ path: [...at, 'use'], message: `'${use}' happens at the embedded authorization server; turn it on with auth.oauth: {} or remove '${use}'` });
      }
    }
    const oauth = config.auth !== 'none' ? config.auth.oauth : undefined;
    if (oauthOn && idp.use.includes('token-exchange') && !oauth?.tokenExchange) {
      issues.push({ path: [...at, 'use'], message: "'token-exchange' needs the clients allowed to exchange: auth.oauth.tokenExchange: { clients: [<client id>] }" });
    }
    if (idp.use.includes('sso') !== (idp.sso !== undefined)) {
      issues.push({ path: [...at, idp.sso ? 'use' : 'sso'], message: idp.sso ? "sso settings need 'sso' in use" : "'sso' needs the gateway's client at the IdP: sso: { clientId, clientSecret: \"${IDP_SSO_SECRET}\" }" });
    }
    if (oauthOn && idp.use.includes('id-jag') && !oauth?.idJag) {
      issues.push({ path: [...at, 'use'], message: "'id-jag' needs the clients allowed to present ID-JAGs: auth.oauth.idJag: { clients: [<client id>] }" });
    }
    for (const [value, mapped] of Object.entries(idp.roles ?? {})) {
      mapped.forEach((role, i) => {
        if (!(role in config.authorization.roles)) {
          issues.push({ path: [...at, 'roles', value, i], message: `IdP value '${value}' maps to role '${role}', which authorization.roles does not define` });
        }
      });
    }
    if (idp.roles && !idp.claims.roles) {
      issues.push({ path: [...at, 'claims', 'roles'], message: 'a roles mapping needs the claim that carries the IdP roles, e.g. claims: { roles: groups }' });
    }
  });
  return issues;
}

/**
 * True when credentials (API keys, tokens) would cross the network in clear text: auth is on, the gateway
 * listens beyond loopback without listen.tls, and nothing says a TLS proxy is in front (http.trustProxy 0
 * and no https publicUrl). The loader refuses this in the public and enterprise scenarios; `warden doctor`
 * (credentials-over-http) reports it in any scenario, by this same test.
 */
export function credentialsOverPlainHttp(config: WardenConfig): boolean {
  const proxied = config.http.trustProxy > 0 || config.publicUrl?.startsWith('https:') === true;
  return config.auth !== 'none' && !config.listen.tls && !proxied && !isLoopbackHost(config.listen.host);
}

/** True when one path lies on the other (equal, or one is inside the other). */
function samePrefix(a: (string | number)[], b: (string | number)[]): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (String(a[i]) !== String(b[i])) return false;
  return true;
}

function issueAt(doc: Document, lines: LineCounter, path: (string | number)[], message: string): ConfigIssue {
  return { path: path.join('.'), message, line: lineOf(doc, lines, path) };
}

/** The line of the deepest part of `path` that exists in the file. */
function lineOf(doc: Document, lines: LineCounter, path: (string | number)[]): number | undefined {
  for (let depth = path.length; depth > 0; depth--) {
    const node = doc.getIn(path.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
    const parent = depth > 1 ? doc.getIn(path.slice(0, depth - 1), true) : doc.contents;
    // For a key that exists, point at the key rather than its value.
    if (isMap(parent)) {
      const pair = parent.items.find((p) => String((p.key as { value?: unknown })?.value ?? p.key) === String(path[depth - 1]));
      const keyRange = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
      if (keyRange) return lines.linePos(keyRange[0]).line;
    }
    if (node?.range) return lines.linePos(node.range[0]).line;
    if (isSeq(parent) && (parent as { range?: [number, number, number] }).range) {
      return lines.linePos((parent as { range: [number, number, number] }).range[0]).line;
    }
  }
  return undefined;
}
