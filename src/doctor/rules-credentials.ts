import type { Rule } from './types.js';

/** How long credentials live, where secrets are written, who can read the store, what is recorded. */

const MINUTE = 60_000;
const DAY = 86_400_000;

export const longTokenLifetime: Rule = {
  id: 'long-token-lifetime',
  severity: 'warning',
  check: ({ config }) => {
    const out = [];
    if (config.auth !== 'none' && config.auth.oauth) {
      const { accessTokenTtl, refreshTokenTtl } = config.auth.oauth;
      if (accessTokenTtl > 15 * MINUTE) {
        out.push({
          path: 'auth.oauth.accessTokenTtl',
          message: `access tokens live ${accessTokenTtl / MINUTE} minutes: a leaked token works that long for any upstream that checks it without warden's revocation list`,
          fix: 'set auth.oauth.accessTokenTtl: 10m (the default); clients refresh without the user noticing',
        });
      }
      if (refreshTokenTtl > 90 * DAY) {
        out.push({
          path: 'auth.oauth.refreshTokenTtl',
          message: `refresh tokens live ${Math.round(refreshTokenTtl / DAY)} days: a device lost today keeps access until then unless someone revokes it`,
          fix: 'set auth.oauth.refreshTokenTtl: 30d (the default) or less',
        });
      }
    }
    for (const [name, u] of Object.entries(config.upstreams)) {
      if (u.url && u.identity !== false && u.identity.ttl > 5 * MINUTE) {
        out.push({
          path: `upstreams.${name}.identity.ttl`,
          message: `identity tokens for ${name} live ${u.identity.ttl / MINUTE} minutes: a captured one can be replayed to that upstream that long`,
          fix: `set upstreams.${name}.identity.ttl: 2m (the default)`,
        });
      }
    }
    return out;
  },
};

export const keysNeverExpire: Rule = {
  id: 'keys-never-expire',
  severity: 'warning',
  check: ({ keys }) => {
    const forever = (keys ?? []).filter((k) => k.expiresAt === null && k.revokedAt === null);
    if (forever.length === 0) return [];
    const ids = forever.map((k) => k.id);
    const k = forever[0]!;
    return [{
      message: `${forever.length} API key${forever.length === 1 ? '' : 's'} never expire${forever.length === 1 ? 's' : ''} (${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', ...' : ''}): a key leaked in a year-old log still works`,
      fix: `rotate each into a key that expires (same grants; the old one works for the grace period, then stops), e.g. warden keys rotate ${k.id} --expires 90d --grace 1h`,
    }];
  },
};

/** Header and variable names that carry credentials. */
const SECRET_NAME = /(authorization|api[-_]?key|token|secret|passw(or)?d|cookie|credential|private[-_]?key)/i;
const FROM_ENV = /\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}/;

export const inlineSecret: Rule = {
  id: 'inline-secret',
  severity: 'warning',
  check: ({ raw }) => {
    const out = [];
    const candidates: [string, string, unknown][] = [];
    const upstreams = asRecord(raw.upstreams);
    for (const [name, u] of Object.entries(upstreams)) {
      for (const [h, v] of Object.entries(asRecord(asRecord(u).headers))) candidates.push([`upstreams.${name}.headers.${h}`, h, v]);
      for (const [k, v] of Object.entries(asRecord(asRecord(u).setEnv))) candidates.push([`upstreams.${name}.setEnv.${k}`, k, v]);
    }
    const metrics = asRecord(raw.metrics);
    if (metrics.token !== undefined) candidates.push(['metrics.token', 'token', metrics.token]);
    for (const [path, name, value] of candidates) {
      if (typeof value !== 'string' || FROM_ENV.test(value) || !SECRET_NAME.test(name)) continue;
      const variable = path.split('.').pop()!.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
      out.push({
        path,
        message: `${path} is written into the file: the secret travels with every copy of the config (repositories, backups, tickets) and cannot be redacted from logs by value`,
        fix: `move it to the environment and write ${path.split('.').pop()}: "\${${variable}}"`,
      });
    }
    return out;
  },
};

export const storeReadable: Rule = {
  id: 'store-file-readable',
  severity: 'warning',
  check: ({ files }) => files.filter((f) => (f.mode & 0o077) !== 0).map((f) => ({
    path: 'store.sqlite',
    message: `${f.path} is readable by other users (mode ${(f.mode & 0o777).toString(8)}): it holds key hashes, signing keys and the audit records`,
    fix: `chmod 600 ${f.path} (and 700 on its directory); warden creates them so, a copy or a restore may not`,
  })),
};

export const auditOff: Rule = {
  id: 'audit-off',
  severity: 'critical',
  check: ({ config }) => {
    const { audit } = config;
    if (audit.store || audit.file || audit.stdout || audit.log) return [];
    return [{
      path: 'audit.store',
      message: 'no audit record is kept: nobody can tell afterwards who called which tool',
      fix: 'set audit.store: true (the tamper-evident chain, `warden audit verify`), and audit.file or audit.stdout for a log shipper',
    }];
  },
};

function asRecord(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** A connection URL with a password written into the file, not taken from the environment. */
export const storeUrlInline: Rule = {
  id: 'store-password-inline',
  severity: 'warning',
  check: ({ raw }) => {
    const store = raw.store as Record<string, unknown> | undefined;
    const out: ReturnType<Rule['check']> = [];
    for (const key of ['postgres', 'redis'] as const) {
      const value = store?.[key];
      if (typeof value !== 'string' || FROM_ENV.test(value)) continue;
      let password = '';
      try {
        password = new URL(value).password;
      } catch {
        continue; // the loader reports it
      }
      if (!password) continue;
      out.push({
        path: `store.${key}`,
        message: `store.${key} has its password written into the file: it travels with every copy of the config`,
        fix: `move the URL to the environment and write ${key}: "\${${key === 'postgres' ? 'DATABASE_URL' : 'REDIS_URL'}}"`,
      });
    }
    return out;
  },
};

/**
 * Several instances without `audit.instance`: each start writes a new chain named hostname:pid, so the end of
 * an instance's chain cannot be pinned (`warden audit verify --expect <instance>@<seq>:<hash>`) across restarts,
 * and records name a process rather than the instance operators know.
 */
export const auditInstanceUnnamed: Rule = {
  id: 'audit-instance-unnamed',
  severity: 'warning',
  check: ({ config }) => ('postgres' in config.store && config.audit.store && config.audit.instance === undefined ? [{
    path: 'audit.instance',
    message: 'several instances share the store, and audit.instance is not set: every start of an instance begins a new audit chain named hostname:pid, so a chain cut short at its end cannot be told from one whose process stopped',
    fix: 'name each instance: audit: { instance: "${WARDEN_INSTANCE}" } with WARDEN_INSTANCE=gw-1, gw-2, … in each instance\'s environment; its chain then continues across restarts',
  }] : []),
};

/**
 * Client certificates checked for issuer and validity only: a machine's certificate that leaked (or a machine
 * retired) is a principal until the certificate expires, and every token bound to it works from wherever it is.
 */
export const clientCertificatesUnrevocable: Rule = {
  id: 'client-certificates-unrevocable',
  severity: 'warning',
  check: ({ config }) => (config.listen.tls?.clientCa !== undefined && config.listen.tls.clientCrl === undefined ? [{
    path: 'listen.tls.clientCrl',
    message: 'client certificates are checked for their issuer and validity, not for revocation: a leaked or retired certificate is let in until it expires',
    fix: "set listen.tls.clientCrl to the CRL(s) of the CAs in clientCa and send SIGHUP when a new one is published (docs/tls.md); or issue certificates that live hours, not months",
  }] : []),
};
