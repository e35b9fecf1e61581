import { z } from 'zod';
import { isLoopbackHost } from '../shared/client-ip.js';
import { storeSchema } from './store-schema.js';
import { redisSchema } from './redis-schema.js';
import { between, duration } from './durations.js';

/**
 * The one schema of `warden.yaml`. Everything else (defaults per scenario, JSON Schema, error messages) is
 * derived from it, so the file, the docs and the validation cannot drift apart.
 */


const port = z.number().int().min(0).max(65535);

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const envName = z.string().regex(ENV_NAME, { message: 'expected an environment variable name such as HOME' });
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const UPSTREAM_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

/** Headers an upstream must never get from config: they belong to the MCP transport or to the hop. */
const RESERVED_HEADERS = new Set([
  'host', 'content-length', 'content-type', 'accept', 'connection', 'transfer-encoding',
  'mcp-session-id', 'mcp-protocol-version', 'last-event-id',
]);

const allowList = z
  .object({
    tools: z.array(z.string().min(1)).optional().describe('tool names or globs (* and ?)'),
    resources: z.array(z.string().min(1)).optional().describe('resource URIs or globs'),
    prompts: z.array(z.string().min(1)).optional().describe('prompt names or globs'),
  })
  .strict()
  .describe('What callers may see and use on this upstream; a kind that is not listed is not restricted.');

function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** A shared secret a policy decision point's callers present as a bearer token: long enough not to be guessed. */
const pdpToken = z.string().min(32, { message: 'use at least 32 characters, e.g. the output of `openssl rand -base64 32`, through ${ENV}' });

const cedar = z
  .object({
    policies: z.string().min(1).describe('a .cedar file, or a folder of *.cedar files; relative to the config file'),
    schema: z.string().min(1).optional().describe('Cedar schema the policies are validated against (default: the MCP schema shipped in cedar/mcp.cedarschema)'),
    entities: z.string().min(1).optional().describe('entities every decision sees (tool groups, upstream tenants), Cedar JSON'),
    timeZone: z.string().refine(isTimeZone, { message: 'expected an IANA time zone such as UTC or Europe/Paris' }).default('UTC')
      .describe('the zone of context.time (office hours)'),
    cacheSize: z.number().int().min(0).max(1_000_000).default(10_000).describe('decisions kept in memory (LRU, per policy-set version); 0: none'),
    reload: z.boolean().default(true).describe('watch the files and swap in a changed set when it validates (else keep the old one)'),
    authzenApi: z.object({ token: pdpToken.describe('the bearer token callers of /access/v1/evaluation present') }).strict().optional()
      .describe('serve this set as an AuthZEN policy decision point at /access/v1/evaluation'),
  })
  .strict();

const authzen = z
  .object({
    url: z.url({ protocol: /^https?$/ }).describe("the PDP's base URL; warden POSTs to <url>/access/v1/evaluation"),
    timeout: duration.default(500).describe('a decision not answered within this is a deny (fail closed)'),
    token: pdpToken.optional().describe('bearer token sent to the PDP'),
  })
  .strict();

/** RFC 6749 §3.3 scope-token: printable ASCII without space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const scopeName = z.string().regex(SCOPE_TOKEN, { message: 'a scope is printable ASCII without spaces, quotes or backslashes, e.g. notes:read' });

const limit = z.object({
  requestsPerSecond: z.number().positive().describe('sustained rate'),
  burst: z.number().int().positive().describe('requests allowed at once before the rate applies'),
}).strict();

/** RFC 8705 §2 client authentication methods, in the order the config documents them. */
export const CERTIFICATE_CLIENT_AUTH = ['tls_client_auth', 'self_signed_tls_client_auth'] as const;

/** The longest access-token lifetime the config allows. */
export const MAX_ACCESS_TOKEN_TTL_MS = 3_600_000;


/** Exponential back-off of failed sign-ins (sign-in-throttle.ts). */
const backoff = z.object({
  after: z.number().int().min(1).max(1_000).describe('the failure that starts the waits: with 5, the 5th failure makes the next attempt wait `initial`'),
  initial: between(100, 3_600_000, 'between 100ms and 1h').describe('the first wait; each further failure doubles it'),
  max: between(1_000, 86_400_000, 'between 1s and 1d').describe('the longest wait'),
}).strict().refine((b) => b.max >= b.initial, { message: 'max must be at least initial', path: ['max'] });

export const LOGIN_BACKOFF = { after: 5, initial: 1_000, max: 900_000 };
export const LOGIN_PER_ACCOUNT = { after: 100, initial: 1_000, max: 60_000 };

/** Keys of earlier versions, refused with what replaced them rather than "unrecognized key". */
const REPLACED_LOGIN_KEYS: Record<string, string> = {
  maxFailures: 'auth.oauth.login.maxFailures was replaced by auth.oauth.login.backoff.after: accounts are no longer locked; failures slow down the username and address that made them (docs/config.md)',
  lockout: 'auth.oauth.login.lockout was replaced by auth.oauth.login.backoff.max, the longest wait between attempts of one username from one address (docs/config.md)',
};

/** RFC 9449 sender-constrained tokens at the embedded AS and at the gateway (resource/dpop.ts, docs/tls.md). */
export const DPOP_MODES = ['off', 'allowed', 'required'] as const;
/** Proof algorithms, the same at the AS and the gateway: asymmetric only (`none` is no signature, HS* a secret shared with the client). */
export const DPOP_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512', 'Ed25519', 'EdDSA'] as const;
export const DPOP_DEFAULTS = { mode: 'allowed' as const, nonce: false, proofWindow: 60_000, replayCacheSize: 100_000 };
const dpopSettings = z.object({
  mode: z.enum(DPOP_MODES).default(DPOP_DEFAULTS.mode)
    .describe('off: no DPoP; allowed: a client that sends a proof gets DPoP-bound tokens, others bearer tokens; required: only DPoP-bound tokens are issued and accepted'),
  nonce: z.boolean().default(DPOP_DEFAULTS.nonce)
    .describe('proofs must carry a server-provided nonce (RFC 9449 §8, §9): one more round trip per client, freshness that does not rest on its clock'),
  proofWindow: between(5_000, 300_000, 'between 5s and 5m').default(DPOP_DEFAULTS.proofWindow)
    .describe("how far a proof's iat may be from the gateway's clock, either way; its jti is remembered as long"),
  replayCacheSize: z.number().int().min(1_000).max(10_000_000).default(DPOP_DEFAULTS.replayCacheSize)
    .describe('proof jtis remembered at once (each for about proofWindow); when full, new proofs are refused with 503 until entries expire'),
}).strict();
const dpop = z.union([z.enum(DPOP_MODES).transform((mode) => ({ ...DPOP_DEFAULTS, mode })), dpopSettings]);

const oauth = z
  .object({
    accessTokenTtl: between(60_000, MAX_ACCESS_TOKEN_TTL_MS, 'between 1m and 1h').default(600_000)
      .describe('lifetime of access tokens (JWTs, refused at once when revoked)'),
    refreshTokenTtl: between(3_600_000, 365 * 86_400_000, 'between 1h and 365d').default(30 * 86_400_000)
      .describe('lifetime of refresh tokens; each use rotates the token'),
    refreshReuseInterval: between(0, 60_000, 'between 0s and 60s').default(5_000)
      .describe('a refresh token used again within this time of its first use is answered (concurrent refreshes); later reuse revokes the whole grant'),
    registration: z.object({
      enabled: z.boolean().default(true).describe('dynamic client registration (RFC 7591) for MCP clients'),
      perIp: limit.default({ requestsPerSecond: 0.1, burst: 10 }).describe('registrations per client IP'),
    }).strict().default({ enabled: true, perIp: { requestsPerSecond: 0.1, burst: 10 } }),
    clientIdMetadataDocuments: z.boolean().default(true)
      .describe('accept https client_id URLs (Client ID Metadata Documents); fetched with SSRF protection'),
    deviceFlow: z.boolean().default(true).describe('device authorization grant (RFC 8628) for CLIs and headless agents'),
    clientCredentials: z.boolean().default(true).describe('client_credentials for service clients made with `warden clients add`'),
    dpop: dpop.default(DPOP_DEFAULTS)
      .describe("DPoP (RFC 9449): 'off', 'allowed' or 'required', or { mode, nonce, proofWindow, replayCacheSize }"),
    localPasswords: z.boolean().default(true)
      .describe('people may sign in with a password of the built-in user directory; false leaves only company sign-in (auth.jwt.issuers[].sso)'),
    tokenExchange: z.object({
      clients: z.array(z.string().min(1)).min(1, { message: 'name the confidential clients that may exchange tokens' })
        .describe('client ids (service clients, authenticated) that may use token exchange (RFC 8693)'),
    }).strict().optional().describe('RFC 8693 token exchange of company IdP tokens (issuers with use: [token-exchange]) for gateway tokens'),
    idJag: z.object({
      clients: z.array(z.string().min(1)).min(1, { message: 'name the confidential clients that may present ID-JAGs' })
        .describe('client ids (authenticated) that may present Identity Assertion JWT Authorization Grants'),
    }).strict().optional().describe('the jwt-bearer grant with ID-JAGs of company IdPs (issuers with use: [id-jag]): MCP enterprise-managed authorization'),
    mtls: z.union([
      z.literal(false),
      z.object({
        boundTokens: z.boolean().default(true)
          .describe('clients that authenticate with a certificate, and public clients that ask (tls_client_certificate_bound_access_tokens), get tokens bound to it (cnf.x5t#S256)'),
        clientAuth: z.array(z.enum(CERTIFICATE_CLIENT_AUTH)).optional()
          .describe('token endpoint authentication with a certificate: tls_client_auth (issued by listen.tls.clientCa or auth.mtls.ca), self_signed_tls_client_auth (listen.tls.clientCertificates: request only)'),
      }).strict(),
    ]).optional()
      .describe('RFC 8705 at the authorization server; default: on when the gateway receives client certificates (listen.tls.clientCa, auth.mtls.header), false turns it off; see docs/tls.md'),
    login: z.object({
      perIp: limit.default({ requestsPerSecond: 0.5, burst: 10 }).describe('sign-in attempts per client IP, whatever the username'),
      backoff: backoff.default(LOGIN_BACKOFF)
        .describe('failed sign-ins per username and client IP: from the `after`-th on, each failure makes that pair wait `initial`, doubling up to `max`; the owner on another address is not slowed'),
      perAccount: z.union([z.literal(false), backoff]).default(LOGIN_PER_ACCOUNT)
        .describe('failed sign-ins per username from any address: a higher ceiling that slows guessing spread over many addresses (never a lockout); false turns it off'),
      // Accepted by the shape only to be refused below with a message that names the replacement.
      ...Object.fromEntries(Object.entries(REPLACED_LOGIN_KEYS).map(([k, message]) => [k, z.unknown().optional().describe(`removed: ${message}`)])),
    }).strict()
      .superRefine((login, ctx) => {
        for (const [key, message] of Object.entries(REPLACED_LOGIN_KEYS)) {
          if ((login as Record<string, unknown>)[key] !== undefined) ctx.addIssue({ code: 'custom', message, path: [key] });
        }
      })
      .transform(({ perIp, backoff: pair, perAccount }) => ({ perIp, backoff: pair, perAccount }))
      .default({ perIp: { requestsPerSecond: 0.5, burst: 10 }, backoff: LOGIN_BACKOFF, perAccount: LOGIN_PER_ACCOUNT }),
  })
  .strict();

/**
 * Signature algorithms an IdP token may use: asymmetric only. `none` is no signature, and HS* would make the
 * IdP's public key (or any shared secret the gateway holds) a signing key.
 */
export const IDP_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export const IDP_DEFAULT_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];
const idpAlgorithm = z.string().refine((a): a is (typeof IDP_ALGORITHMS)[number] => (IDP_ALGORITHMS as readonly string[]).includes(a), {
  message: `one of ${IDP_ALGORITHMS.join(', ')}; 'none' and HS* (shared secrets) are never accepted from an IdP`,
});

/** An IdP URL: https, or http on loopback (tests, a local IdP); a token's trust is no better than the channel its keys came over. */
const idpUrl = z.url({ protocol: /^https?$/, message: 'expected an https:// URL' }).refine((u) => {
  // zod runs this even when the URL check failed: that failure is the one to report.
  if (!URL.canParse(u)) return true;
  const url = new URL(u);
  return url.protocol === 'https:' || isLoopbackHost(url.hostname);
}, { message: 'an IdP must be reached over https (http only on loopback): its keys decide who may call your tools' });

export const IDP_USES = ['access-token', 'token-exchange', 'id-jag', 'sso'] as const;

const jwtIssuer = z
  .object({
    issuer: idpUrl.describe("the IdP's issuer identifier, compared exactly with each token's iss and with its discovery document"),
    jwksUri: idpUrl.optional().describe("where the IdP publishes its keys (default: the discovery document's jwks_uri)"),
    audiences: z.array(z.string().min(1)).min(1).optional()
      .describe("what a token's aud must name (default: the resource URL of the upstream called, RFC 8707)"),
    algorithms: z.array(idpAlgorithm).min(1).default(IDP_DEFAULT_ALGORITHMS as never)
      .describe('signature algorithms accepted (asymmetric only)'),
    claims: z.object({
      subject: z.string().min(1).default('sub').describe('the claim that names the user (e.g. sub, oid)'),
      roles: z.string().min(1).optional().describe('the claim with the IdP roles or groups, e.g. groups, roles, realm_access.roles'),
      tenant: z.string().min(1).optional().describe('the claim that names the tenant, e.g. tid'),
      scopes: z.string().min(1).default('scope').describe('the claim with scopes: a space-separated string or a list (scope, scp)'),
    }).strict().default({ subject: 'sub', scopes: 'scope' })
      .describe('where each part of the principal is in the token; a dotted name reaches into objects (realm_access.roles)'),
    roles: z.record(z.string().min(1), z.array(z.string().min(1)).min(1)).optional()
      .describe('IdP role or group value -> warden roles; with a mapping, a token whose values map to no role is refused'),
    use: z.array(z.enum(IDP_USES)).min(1).default(['access-token'])
      .describe('what the IdP is trusted for: access-token (its tokens at /mcp), token-exchange, id-jag, sso'),
    introspection: z.object({
      url: idpUrl.optional().describe("RFC 7662 endpoint (default: the discovery document's introspection_endpoint)"),
      clientId: z.string().min(1).describe('the gateway\'s client at the IdP'),
      clientSecret: z.string().min(1).describe('its secret; use "${IDP_INTROSPECTION_SECRET}"'),
      cacheTtl: duration.pipe(z.number().min(0).max(300_000, { message: 'at most 5m: a revoked token is honoured this long' })).default(30_000)
        .describe('how long an answer is reused (never past the token\'s exp)'),
    }).strict().optional().describe('opaque (non-JWT) IdP access tokens are checked by introspection'),
    sso: z.object({
      clientId: z.string().min(1).describe("the gateway's client at the IdP (a confidential web app with redirect URI <publicUrl>/oauth/sso/callback)"),
      clientSecret: z.string().min(1).describe('its secret; use "${IDP_SSO_SECRET}"'),
      scopes: z.array(scopeName).default(['openid', 'profile', 'email']).describe('scopes asked of the IdP (openid is added when missing)'),
      label: z.string().min(1).max(60).optional().describe('the sign-in button text (default: "Sign in with <IdP host>")'),
    }).strict().optional().describe('with use: [sso], people sign in at the embedded authorization server through this IdP (OIDC code flow with PKCE)'),
    clockTolerance: duration.pipe(z.number().min(0).max(300_000, { message: 'at most 5m' })).default(30_000)
      .describe('clock skew allowed on exp, nbf and iat'),
    jwksCooldown: duration.pipe(z.number().min(1_000, { message: 'at least 1s: each unknown kid may cause a fetch' }).max(300_000, { message: 'at most 5m' })).default(30_000)
      .describe("a token with a kid the cached keys lack refetches the IdP's JWKS at most once per this interval (rotation without restart)"),
  })
  .strict();

const jwt = z
  .object({
    issuers: z.array(jwtIssuer).min(1, { message: 'name at least one issuer' }).describe('the company IdPs whose tokens are trusted'),
  })
  .strict()
  .superRefine((j, ctx) => {
    const seen = new Set<string>();
    j.issuers.forEach((i, n) => {
      if (seen.has(i.issuer)) ctx.addIssue({ code: 'custom', message: `issuer ${i.issuer} is listed twice`, path: ['issuers', n, 'issuer'] });
      seen.add(i.issuer);
    });
  });

const identity = z
  .union([
    z.literal(false),
    z.object({
      header: z.string().regex(HEADER_NAME, { message: 'not a valid HTTP header name' })
        .refine((h) => !RESERVED_HEADERS.has(h.toLowerCase()), { message: 'this header is set by the gateway itself' })
        .default('x-warden-identity')
        .describe('HTTP upstream: the header that carries the identity JWT'),
      audience: z.string().min(1).optional().describe("HTTP upstream: the JWT's aud (default: the upstream's url)"),
      ttl: duration.pipe(z.number().min(10_000, { message: 'at least 10s' }).max(3_600_000, { message: 'at most 1h' })).default(120_000)
        .describe('HTTP upstream: lifetime of each identity JWT'),
    }).strict(),
  ])
  .default({ header: 'x-warden-identity', ttl: 120_000 })
  .describe('how the upstream learns who is calling (never from the caller\'s credential): a signed JWT header for HTTP, params._meta for stdio; false turns it off');

/** A PEM file; relative paths are resolved against the config file, like store.sqlite. */
const pemFile = z.string().min(1);

const upstream = z
  .object({
    // stdio
    // YAML reads `--port, 8080` as a number; an argv is strings.
    command: z.array(z.union([z.string().min(1), z.number().transform(String)])).min(1, { message: 'command needs at least the program to run' }).optional()
      .describe('stdio upstream: the program and its arguments, e.g. [npx, "@modelcontextprotocol/server-everything", stdio]'),
    cwd: z.string().min(1).optional().describe('stdio upstream: working directory of the child'),
    env: z.array(envName).default([]).describe('stdio upstream: the only variables of the gateway environment the child sees'),
    setEnv: z.record(z.string().regex(ENV_NAME), z.string()).default({}).describe('stdio upstream: variables set for the child'),
    sessions: z
      .object({
        max: z.number().int().positive().default(32).describe("live children at most; at the limit the caller's own least recently used idle session makes room, else 503"),
        idleTimeout: duration.default(15 * 60_000).describe('a session without requests or an open stream for this long ends'),
        perPrincipal: z.number().int().positive().optional()
          .describe('sessions one principal may hold at once (default: max(1, ceil(max / 8)); with auth: none, max); at the cap their least recently used idle session is ended, else 429'),
      })
      .strict()
      .refine((s) => s.perPrincipal === undefined || s.perPrincipal <= s.max, { message: 'perPrincipal cannot be more than max', path: ['perPrincipal'] })
      .default({ max: 32, idleTimeout: 15 * 60_000 }),
    // HTTP
    url: z.url({ protocol: /^https?$/, message: 'expected an http:// or https:// URL' }).optional()
      .describe('HTTP upstream: its Streamable HTTP endpoint'),
    headers: z
      .record(
        z.string().regex(HEADER_NAME, { message: 'not a valid HTTP header name' })
          .refine((h) => !RESERVED_HEADERS.has(h.toLowerCase()), { message: 'this header is set by the gateway itself' }),
        z.string(),
      )
      .default({})
      .describe("HTTP upstream: the gateway's own credential for it, e.g. { x-api-key: \"${NOTES_KEY}\" }"),
    tls: z.object({
      ca: pemFile.optional().describe("HTTP upstream: the only CA(s) trusted for the upstream's certificate (PEM), instead of the system's"),
      cert: pemFile.optional().describe('HTTP upstream: the client certificate the gateway presents (PEM), for upstreams that require mTLS'),
      key: pemFile.optional().describe('HTTP upstream: its private key (PEM)'),
    }).strict()
      .refine((t) => (t.cert === undefined) === (t.key === undefined), { message: 'cert and key go together: the gateway presents the certificate with its key', path: ['key'] })
      .optional()
      .describe('HTTP upstream over https: a pinned private CA and/or the gateway\'s own client certificate; paths relative to the config file'),
    // both
    timeout: duration.pipe(z.number().positive({ message: 'a timeout must be longer than 0' })).default(60_000)
      .describe('longest wait for an answer (reset by progress notifications)'),
    allow: allowList.optional(),
    identity,
  })
  .strict()
  .superRefine((u, ctx) => {
    if (u.command && u.url) ctx.addIssue({ code: 'custom', message: 'give either command (stdio) or url (HTTP), not both', path: ['url'] });
    if (!u.command && !u.url) ctx.addIssue({ code: 'custom', message: 'an upstream needs command (a stdio server to spawn) or url (an HTTP server)' });
    if (u.url) {
      for (const key of ['cwd'] as const) {
        if (u[key] !== undefined) ctx.addIssue({ code: 'custom', message: `${key} applies to stdio upstreams only`, path: [key] });
      }
    }
    if (u.command && u.identity && (u.identity.audience !== undefined)) {
      ctx.addIssue({ code: 'custom', message: 'identity.audience applies to HTTP upstreams only (stdio children get the principal in params._meta)', path: ['identity', 'audience'] });
    }
    if (u.url && u.sessions.perPrincipal !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'sessions.perPrincipal applies to stdio upstreams only (an HTTP upstream keeps its own sessions)', path: ['sessions', 'perPrincipal'] });
    }
    if (u.tls && !u.url?.startsWith('https:')) {
      ctx.addIssue({ code: 'custom', message: u.url ? 'tls applies to https:// upstream URLs; change url to https://' : 'tls applies to HTTP upstreams only', path: ['tls'] });
    }
    if (u.command && Object.keys(u.headers).length > 0) {
      ctx.addIssue({ code: 'custom', message: 'headers apply to HTTP upstreams only', path: ['headers'] });
    }
  });

const listenTls = z
  .object({
    cert: pemFile.describe("the server certificate (PEM, leaf first then intermediates); relative to the config file"),
    key: pemFile.describe('its private key (PEM); relative to the config file'),
    ca: pemFile.optional().describe('intermediate certificates sent after the server certificate (PEM)'),
    clientCa: pemFile.optional().describe('the CA(s) that issue client certificates (PEM); turns on asking for one (auth.mtls makes it a principal)'),
    clientCertificates: z.enum(['request', 'require']).optional()
      .describe('request (default with clientCa): a certificate is asked for, a request without one needs a bearer token; require: the handshake fails without a valid one'),
    clientCrl: pemFile.optional()
      .describe('certificate revocation lists (PEM, one per CA of clientCa): a revoked client certificate is refused; re-read on SIGHUP'),
  })
  .strict()
  .refine((t) => t.clientCertificates === undefined || t.clientCa !== undefined, {
    message: 'clientCertificates needs clientCa, the CA that issues the client certificates', path: ['clientCertificates'],
  })
  .refine((t) => t.clientCrl === undefined || t.clientCa !== undefined, {
    message: 'clientCrl needs clientCa, the CA whose revocations it lists', path: ['clientCrl'],
  });

/** How a verified client certificate becomes a principal (src/resource/mtls-authenticator.ts). */
const mtls = z
  .object({
    principal: z.enum(['subject-cn', 'san-uri', 'san-dns', 'san-email'])
      .describe("which name of the certificate is the principal's subject: its subject CN, or its first URI (e.g. a SPIFFE ID), DNS or email SAN"),
    roles: z.record(z.string().min(1), z.array(z.string().min(1)))
      .describe('subject value or glob (* and ?) -> roles; a certificate whose subject matches none is refused'),
    header: z.string().regex(HEADER_NAME, { message: 'not a valid HTTP header name' }).optional()
      .describe('behind a TLS-terminating proxy: the header carrying the URL-encoded PEM client certificate (e.g. X-Forwarded-Client-Cert); needs http.trustProxy > 0 and ca'),
    ca: pemFile.optional().describe("the CA(s) the header's certificates must be issued by (PEM); relative to the config file"),
  })
  .strict()
  .refine((m) => (m.header === undefined) === (m.ca === undefined), {
    message: "header and ca go together: the gateway checks the proxy's certificate against ca", path: ['ca'],
  });

export const configSchema = z
  .object({
    scenario: z.enum(['local', 'public', 'enterprise']).default('local')
      .describe('where the gateway runs; picks safe defaults for everything below'),
    listen: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        // A string of digits too, so that `port: ${PORT}` works.
        port: z.union([port, z.string().regex(/^\d{1,5}$/, { message: 'expected a port number' }).transform(Number).pipe(port)]).default(8787),
        tls: listenTls.optional().describe('serve HTTPS (TLS 1.2+, HTTP/1.1) with these PEM files; reloaded on SIGHUP'),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8787 }),
    publicUrl: z.url({ protocol: /^https?$/ }).optional()
      .describe('the URL clients use to reach the gateway, when it differs from the listen address'),
    store: storeSchema,
    redis: redisSchema,
    auth: z
      .union([
        z.literal('none'),
        z.object({
          apiKeys: z.union([z.literal(true), z.object({}).strict()]).transform(() => ({})).optional()
            .describe('accept `Authorization: Bearer wdn_...` keys made with `warden keys create`'),
          oauth: z.union([z.literal(true).transform(() => ({})), oauth]).pipe(oauth).optional()
            .describe('the embedded OAuth 2.1 authorization server: users sign in at the gateway, clients get tokens for one upstream'),
          jwt: jwt.optional().describe("company IdPs (OIDC / OAuth): their tokens validated by issuer, keys and audience"),
          mtls: mtls.optional().describe('client certificates as principals (listen.tls.clientCa, or auth.mtls.header behind a proxy); see docs/tls.md'),
        }).strict()
          .refine((a) => a.apiKeys !== undefined || a.oauth !== undefined || a.jwt !== undefined || a.mtls !== undefined, { message: 'name at least one credential: { apiKeys: {} }, { oauth: {} }, { jwt: { issuers: [...] } }, { mtls: {...} }' }),
      ], { message: "expected 'none' (local scenario only) or { apiKeys: {}, oauth: {}, jwt: {...} }" })
      .default('none')
      .describe("'none' (local scenario, loopback only) or the credentials accepted"),
    authorization: z
      .object({
        scopes: z.record(scopeName, z.object({
          description: z.string().optional().describe('shown to people who grant the scope'),
          upstreams: z.array(z.string().regex(UPSTREAM_NAME)).min(1).optional().describe('the upstreams it applies to (default: all)'),
          tools: z.array(z.string().min(1)).default([]).describe('tool names or globs'),
          resources: z.array(z.string().min(1)).default([]).describe('resource URIs or globs'),
          prompts: z.array(z.string().min(1)).default([]).describe('prompt names or globs'),
        }).strict()).default({}),
        roles: z.record(z.string().min(1), z.array(scopeName)).default({}).describe('role name -> the scopes it grants'),
        cedar: cedar.optional().describe('Cedar policies decide every call after the scopes (default deny); see docs/policies.md'),
        authzen: authzen.optional().describe('a remote policy decision point asked over the OpenID AuthZEN evaluation API; fails closed'),
      })
      .strict()
      .default({ scopes: {}, roles: {} })
      .describe('scope -> what it opens; role -> scopes. Default deny: an authenticated caller may use only what a scope of theirs opens'),
    http: z
      .object({
        maxBodyBytes: z.number().int().positive().default(1_048_576).describe('larger request bodies get 413'),
        allowedOrigins: z.array(z.string().regex(/^https?:\/\/[^/]+$/, { message: 'expected an origin such as http://localhost:6274' })).default([])
          .describe('browser origins allowed besides the gateway itself (DNS-rebinding protection)'),
        allowedHosts: z.array(z.string().min(1)).default([]).describe('Host header values accepted besides the loopback names and publicUrl'),
        trustProxy: z.number().int().min(0).max(10).default(0)
          .describe('how many reverse proxies in front append to X-Forwarded-For (0: use the socket address)'),
        shutdownGrace: duration.default(10_000).describe('on SIGTERM, how long in-flight requests may take to finish'),
        maxJsonDepth: z.number().int().min(8).max(1000).default(64).describe('deepest nesting of arrays and objects in a request body; deeper gets 400'),
        maxBatch: z.number().int().min(1).max(1000).default(32).describe('most JSON-RPC messages in one batch (protocol 2025-03-26); more gets 400'),
        headersTimeout: duration.pipe(z.number().min(1_000, { message: 'at least 1s' })).default(10_000)
          .describe("a connection that has not sent a request's headers within this time is closed (slow-header attacks)"),
        requestTimeout: duration.pipe(z.number().min(1_000, { message: 'at least 1s' })).default(30_000)
          .describe('a request whose headers and body have not arrived within this time is closed with 408 (slow-body attacks)'),
        idleTimeout: duration.pipe(z.number().min(1_000, { message: 'at least 1s' })).default(600_000)
          .describe('a connection or stream on which nothing moves in either direction for this long is closed; keep it above upstream timeouts'),
        maxConnections: z.number().int().min(1).default(4096).describe('open connections at most; further ones are closed at once'),
        maxConnectionsPerIp: z.union([z.literal(false), z.number().int().min(1)]).default(256)
          .describe('open connections per client address at most (the socket address: off behind a proxy, where trustProxy > 0)'),
      })
      .strict()
      .default({
        maxBodyBytes: 1_048_576, allowedOrigins: [], allowedHosts: [], trustProxy: 0, shutdownGrace: 10_000, maxJsonDepth: 64, maxBatch: 32,
        headersTimeout: 10_000, requestTimeout: 30_000, idleTimeout: 600_000, maxConnections: 4096, maxConnectionsPerIp: 256,
      }),
    rateLimit: z
      .object({
        perIp: z.union([z.literal(false), limit]).default({ requestsPerSecond: 200, burst: 1000 })
          .describe('per client IP; failed authentications and requests to the authorization server (/oauth/*) count against it too'),
        failedAuthPerIp: z.union([z.literal(false), limit]).default({ requestsPerSecond: 1, burst: 30 })
          .describe('failed authentications per client IP (on top of perIp): what throttles someone guessing credentials while clients that hold one are not slowed'),
        perPrincipal: z.union([z.literal(false), limit]).default(false)
          .describe('per authenticated user (tenant + subject), across all their keys'),
        perKey: z.union([z.literal(false), limit]).default(false).describe('per credential (API key id)'),
      })
      .strict()
      .default({ perIp: { requestsPerSecond: 200, burst: 1000 }, failedAuthPerIp: { requestsPerSecond: 1, burst: 30 }, perPrincipal: false, perKey: false }),
    audit: z
      .object({
        store: z.boolean().default(true).describe('keep records in the store as a hash chain (`warden audit verify|query|tail|export`)'),
        file: z.string().min(1).optional().describe('also append one JSON line per record to this file'),
        stdout: z.boolean().default(false).describe('also write one JSON line per record to stdout, for log shippers'),
        log: z.boolean().default(false).describe('also write each record to the gateway log (the store is the audit log; this is a copy)'),
        instance: z.string().min(1).max(128).optional().describe('names this gateway in records (default: hostname:pid)'),
        retainDays: z.number().int().min(0).default(0).describe('delete records older than this many days (0: keep all); the rest still verifies'),
        outcomes: z.enum(['all', 'failures']).default('all')
          .describe("after each forwarded call, an `outcome` record (status, latency, error): for every call, or only for those that did not end with the upstream's answer (an error, a timeout, a status of 400 or more, the caller leaving); the access log has every status either way"),
        arguments: z
          .object({
            enabled: z.boolean().default(false).describe('record tool arguments (redacted and capped)'),
            redactKeys: z.array(z.string().min(1)).default([]).describe('more field names (or globs) whose values are redacted'),
            maxBytes: z.number().int().min(64).max(65_536).default(2048).describe('larger arguments are recorded as their size only'),
          })
          .strict()
          .default({ enabled: false, redactKeys: [], maxBytes: 2048 }),
      })
      .strict()
      .default({ store: true, stdout: false, log: false, retainDays: 0, outcomes: 'all', arguments: { enabled: false, redactKeys: [], maxBytes: 2048 } }),
    metrics: z
      .object({
        enabled: z.boolean().default(true).describe('serve Prometheus metrics at /metrics (same Host rules as /mcp)'),
        token: z.string().min(16, { message: 'at least 16 characters; use "${METRICS_TOKEN}" and a random value' }).optional()
          .describe('a bearer token scrapers send (Authorization: Bearer …); without one, only loopback clients get /metrics'),
        public: z.boolean().default(false).describe('serve /metrics to anyone, without a token (not recommended beyond a private network)'),
      })
      .strict()
      .default({ enabled: true, public: false }),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .default({ level: 'info' }),
    admin: z
      .object({
        roles: z.array(z.string().min(1)).min(1, { message: 'name at least one role, e.g. roles: [admin]' })
          .describe('users holding one of these roles (authorization.roles) may sign in to the console and the admin API'),
        allowRemote: z.boolean().default(false)
          .describe('serve /admin to clients beyond this machine (default: loopback clients only); needs an https publicUrl'),
        sessionTtl: between(300_000, 86_400_000, 'between 5m and 1d').default(28_800_000)
          .describe('how long a console sign-in lasts'),
        reauthAfter: between(60_000, 3_600_000, 'between 1m and 1h').default(300_000)
          .describe('a destructive change (revoke, disable, end a session) asks for the password again when the sign-in is older than this'),
        perIp: limit.default({ requestsPerSecond: 5, burst: 100 }).describe('requests to /admin per client IP'),
      })
      .strict()
      .optional()
      .describe('the admin console at /admin and the JSON API at /admin/api (off unless set)'),
    upstreams: z
      .record(z.string().regex(UPSTREAM_NAME, { message: 'upstream names are letters, digits, - and _ (served at /mcp/<name>)' }), upstream, {
        error: (iss) => (iss.input === undefined ? 'configure at least one upstream, e.g. upstreams: { notes: { url: http://127.0.0.1:3000/mcp } }' : undefined),
      })
      .refine((u) => Object.keys(u).length > 0, { message: 'configure at least one upstream' }),
  })
  .strict();

export type ConfigInput = z.input<typeof configSchema>;
export type WardenConfig = z.output<typeof configSchema>;
export type UpstreamConfig = WardenConfig['upstreams'][string];
export type AllowListConfig = NonNullable<UpstreamConfig['allow']>;
export type AuthorizationConfig = WardenConfig['authorization'];
export type ScopeConfig = AuthorizationConfig['scopes'][string];
export type OAuthConfig = z.output<typeof oauth>;
export type DpopConfig = OAuthConfig['dpop'];
export type JwtIssuerConfig = z.output<typeof jwtIssuer>;
export type IdpUse = (typeof IDP_USES)[number];

/**
 * How long access tokens issued under `config` live: what a revocation must outlast. Without OAuth in the
 * config (the CLI may still find tokens in a store another config issued), the longest lifetime allowed.
 */
export function accessTokenTtlOf(config: Pick<WardenConfig, 'auth'>): number {
  return config.auth !== 'none' && config.auth.oauth ? config.auth.oauth.accessTokenTtl : MAX_ACCESS_TOKEN_TTL_MS;
}
export type RateLimitConfig = Exclude<WardenConfig['rateLimit']['perIp'], false>;
export type RedisConfig = WardenConfig['redis'];

export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
