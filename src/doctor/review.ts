import type { ConfigError, WardenConfig } from '../config/index.js';
import { RULES } from './rules.js';
import type { Finding, ReviewInput, Severity } from './types.js';

/** The four questions of the review ritual, answered for this config. */
export interface Check {
  id: 'strategy' | 'rotation' | 'revocation' | 'audit';
  ok: boolean;
  text: string;
}

export interface Review {
  checks: Check[];
  findings: Finding[];
}

const ORDER: Record<Severity, number> = { critical: 0, warning: 1 };

/** Applies every rule; findings come gravest first, each with its fix. */
export function reviewConfig(input: ReviewInput): Review {
  const findings = RULES.flatMap((rule) => rule.check(input).map((f) => ({ id: rule.id, severity: rule.severity, ...f })))
    .sort((a, b) => ORDER[a.severity] - ORDER[b.severity]);
  return { checks: ritual(input.config, findings), findings };
}

/** Rules the loader enforces, by the `rule` it names on the issue: their ids and fixes as doctor reports them. */
const ENFORCED: Record<string, { id: string; fix: string }> = {
  listen_without_auth: { id: 'listen-without-auth', fix: 'listen.host: 127.0.0.1 (or ::1), or turn on authentication: auth: { apiKeys: {} } with `warden keys create`' },
  scenario_without_auth: { id: 'scenario-without-auth', fix: 'auth: { apiKeys: {} } (or { oauth: {} }), then `warden keys create --subject <who> --expires 90d`' },
  oauth_without_tls: { id: 'credentials-over-http', fix: 'put a TLS proxy in front and set publicUrl: https://<your host>' },
  credentials_over_http: { id: 'credentials-over-http', fix: 'put a TLS-terminating proxy in front and set publicUrl: https://<your host> and http.trustProxy, or serve TLS itself: listen.tls: { cert, key } (docs/tls.md)' },
};

/** A config that does not load is a finding too: each issue, critical, with the loader's own words as the fix. */
export function configErrorFindings(err: ConfigError): Finding[] {
  return err.issues.map((issue) => {
    const known = issue.rule ? ENFORCED[issue.rule] : undefined;
    return {
      id: known?.id ?? 'config-invalid',
      severity: 'critical',
      ...(issue.path ? { path: issue.path } : {}),
      message: `${issue.line ? `line ${issue.line}: ` : ''}${issue.message}`,
      fix: known?.fix ?? 'correct the setting as the message says (`warden config check` shows every issue; `warden config schema` lists every setting)',
    };
  });
}

function ritual(config: WardenConfig, findings: Finding[]): Check[] {
  const failed = (...ids: string[]) => findings.some((f) => ids.includes(f.id));
  const auth = config.auth === 'none' ? undefined : config.auth;
  const kinds = auth ? [auth.apiKeys ? 'API keys' : '', auth.oauth ? 'OAuth (embedded authorization server)' : ''].filter(Boolean).join(' and ') : 'no authentication';
  const strategyOk = !failed('credentials-over-http', 'public-url-http', 'scenario-mismatch', 'audience-not-pinned');
  return [
    {
      id: 'strategy',
      ok: strategyOk,
      text: `${config.scenario} scenario, ${kinds}, listening on ${config.listen.host}${config.publicUrl ? ` behind ${config.publicUrl}` : ''}${
        strategyOk ? (auth ? '' : ': fits one user on this machine (loopback only)') : ': does not fit (see the findings)'}`,
    },
    {
      id: 'rotation',
      ok: !failed('keys-never-expire', 'long-token-lifetime'),
      text: !auth ? 'no credentials to rotate'
        : [auth.apiKeys ? 'API keys rotate with a grace period (`warden keys rotate ID --grace 1h`)' : '',
          auth.oauth ? 'refresh tokens rotate on every use; signing keys with `warden keys rotate-signing`' : ''].filter(Boolean).join('; '),
    },
    {
      id: 'revocation',
      ok: true,
      text: !auth ? 'no credentials to revoke; stopping the gateway stops access'
        : [auth.apiKeys ? '`warden keys revoke ID` holds on the next request' : '',
          auth.oauth ? '`warden tokens revoke --user U|--client C|--grant G` and `warden users disable U` hold on the next request' : ''].filter(Boolean).join('; '),
    },
    {
      id: 'audit',
      ok: !failed('audit-off'),
      text: config.audit.store
        ? 'every decision is a record in the hash chain: who (subject, credential kind and id), which upstream and tool, allow or deny, why (`warden audit verify`)'
        : failed('audit-off') ? 'nothing is recorded' : `records go to ${[config.audit.file, config.audit.stdout ? 'stdout' : '', config.audit.log ? 'the log' : ''].filter(Boolean).join(', ')} only, not to a tamper-evident chain`,
    },
  ];
}
