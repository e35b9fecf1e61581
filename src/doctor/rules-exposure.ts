import { credentialsOverPlainHttp, isLoopbackHost } from '../config/index.js';
import type { Rule } from './types.js';

/** Who can reach the gateway, and what crosses the network in the clear. */

const authOn = (auth: unknown): boolean => auth !== 'none';

export const credentialsOverHttp: Rule = {
  id: 'credentials-over-http',
  severity: 'critical',
  check: ({ config }) => {
    // The loader's test (it refuses this outright in the public and enterprise scenarios); an http publicUrl is public-url-http's.
    if (!credentialsOverPlainHttp(config) || config.publicUrl) return [];
    return [{
      path: 'listen.host',
      message: `the gateway listens on ${config.listen.host} over plain HTTP and takes credentials: anyone on the path can read keys and tokens`,
      fix: 'put a TLS-terminating proxy in front and set publicUrl: https://<your host>, or listen.host: 127.0.0.1 when the proxy runs on this machine, or serve TLS itself: listen.tls: { cert, key } (docs/tls.md)',
    }];
  },
};

export const publicUrlHttp: Rule = {
  id: 'public-url-http',
  severity: 'critical',
  check: ({ config }) => {
    if (config.scenario === 'local' || !config.publicUrl) return [];
    const url = new URL(config.publicUrl);
    if (url.protocol === 'https:' || isLoopbackHost(url.hostname)) return [];
    return [{
      path: 'publicUrl',
      message: `publicUrl is ${config.publicUrl}: clients of the ${config.scenario} scenario would send their credentials over plain HTTP`,
      fix: `serve the gateway behind TLS and set publicUrl: https://${url.host}`,
    }];
  },
};

export const audienceNotPinned: Rule = {
  id: 'audience-not-pinned',
  severity: 'warning',
  check: ({ config }) => {
    if (config.scenario === 'local' || !authOn(config.auth) || config.publicUrl) return [];
    return [{
      path: 'publicUrl',
      message: `no publicUrl in the ${config.scenario} scenario: resource identifiers, token audiences and metadata are derived from the listen address (${config.listen.host}:${config.listen.port}), not the name clients use`,
      fix: 'set publicUrl: https://<the name clients use>, so tokens are bound to that resource and nothing else',
    }];
  },
};

export const sharedIdentityAudience: Rule = {
  id: 'identity-audience-shared',
  severity: 'warning',
  check: ({ config }) => {
    const byAudience = new Map<string, string[]>();
    for (const [name, u] of Object.entries(config.upstreams)) {
      if (!u.url || u.identity === false) continue;
      const aud = u.identity.audience ?? u.url;
      byAudience.set(aud, [...(byAudience.get(aud) ?? []), name]);
    }
    return [...byAudience.entries()].filter(([, names]) => names.length > 1).map(([aud, names]) => ({
      path: `upstreams.${names[1]}.identity.audience`,
      message: `upstreams ${names.join(', ')} get identity tokens for the same audience (${aud}): one of them can replay a caller's identity to the other`,
      fix: `give each upstream its own upstreams.<name>.identity.audience (by default its url)`,
    }));
  },
};

export const scenarioMismatch: Rule = {
  id: 'scenario-mismatch',
  severity: 'warning',
  check: ({ config }) => {
    if (config.scenario !== 'local' || isLoopbackHost(config.listen.host)) return [];
    return [{
      path: 'scenario',
      message: `scenario is local (defaults for one user on this machine: large bodies, loose rate limits) but the gateway listens on ${config.listen.host}`,
      fix: 'set scenario: public (internet) or enterprise (company network), or listen.host: 127.0.0.1',
    }];
  },
};

export const metricsPublic: Rule = {
  id: 'metrics-public',
  severity: 'warning',
  check: ({ config }) => {
    if (!config.metrics.enabled || config.metrics.public !== true) return [];
    return [{
      path: 'metrics.public',
      message: '/metrics is served to anyone: upstream names, traffic and error rates help an attacker map the deployment',
      fix: 'remove metrics.public and give scrapers a token: metrics: { token: "${METRICS_TOKEN}" } (without one, only loopback clients are answered)',
    }];
  },
};

export const noRateLimit: Rule = {
  id: 'no-rate-limit',
  severity: 'warning',
  check: ({ config }) => {
    const out = [];
    if (config.rateLimit.perIp === false) {
      out.push({
        path: 'rateLimit.perIp',
        message: 'no per-IP rate limit: one client can flood the gateway and guess credentials without a brake',
        fix: 'set rateLimit.perIp: { requestsPerSecond: 10, burst: 20 } (or remove the line for the scenario default)',
      });
    }
    // Quota drain with a stolen key is the public scenario's threat (DESIGN.md); inside a company network the per-IP limit stands.
    if (authOn(config.auth) && config.scenario === 'public' && config.rateLimit.perPrincipal === false && config.rateLimit.perKey === false) {
      out.push({
        path: 'rateLimit.perPrincipal',
        message: 'no per-user or per-key rate limit: one stolen key can drain the upstreams\' quota from many addresses',
        fix: 'set rateLimit.perPrincipal: { requestsPerSecond: 20, burst: 40 } (and perKey for API keys)',
      });
    }
    return out;
  },
};

export const idpUnreachable: Rule = {
  id: 'idp-unreachable',
  severity: 'critical',
  check: ({ idps }) => (idps ?? []).filter((p) => p.problem).map((p) => ({
    path: 'auth.jwt.issuers',
    message: `the company IdP ${p.issuer} does not answer as it must: ${p.problem}. \`warden serve\` stops at start when discovery fails, and refuses tokens it has no keys for`,
    fix: `check the issuer URL (exactly as the IdP's tokens carry it in iss), that this machine reaches it, or set jwksUri for that issuer; \`curl ${p.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration\` shows what the IdP says`,
  })),
};
