import { COST, IDPS, USERS, WHERE, type Plan, type UpstreamAnswer } from './plan.js';

/** The commented `warden.yaml` for a plan: each choice with its reason, so the file explains itself. */

const q = (v: string): string => JSON.stringify(v);
const list = (vs: readonly string[]): string => `[${vs.map(q).join(', ')}]`;

export function renderConfig(plan: Plan): string {
  const severe = plan.cost === 'severe';
  const out: string[] = [
    '# warden.yaml, written by `warden init`. Every setting: docs/config.md, or `warden config schema`.',
    '# Review it with `warden doctor` after every change.',
    '#',
    `#   who uses it:                  ${USERS[plan.users]}`,
    `#   cost of unauthorised access:  ${COST[plan.cost]}`,
    `#   where it runs:                ${WHERE[plan.where]}`,
    `#   identity provider:            ${IDPS[plan.idp]}`,
    '',
    `# ${plan.reasons.scenario}`,
    `scenario: ${plan.scenario}`,
  ];
  if (plan.scenario === 'local') {
    out.push('listen: { host: 127.0.0.1, port: 8787 }   # loopback: nothing else on the network can reach it');
  } else {
    out.push(
      '# The gateway speaks plain HTTP: put a TLS-terminating proxy in front. publicUrl is the address clients use;',
      '# tokens and metadata are bound to it (audience pinning).',
      'listen: { host: 0.0.0.0, port: 8787 }',
      `publicUrl: ${plan.publicUrl ?? 'https://mcp.example.com   # CHANGE: the https address of your proxy'}`,
    );
  }
  out.push('', `# ${plan.reasons.auth}`);
  if (plan.auth === 'none') out.push('auth: none');
  else if (plan.auth === 'apiKeys') out.push('auth: { apiKeys: {} }       # keys: warden keys create --subject NAME --scope SCOPE --expires 90d');
  else {
    out.push(
      'auth:',
      '  oauth:',
      `    accessTokenTtl: ${severe || plan.scenario === 'enterprise' ? '5m' : '10m'}         # short: a revocation holds at once anyway`,
      `    refreshTokenTtl: ${plan.scenario === 'enterprise' ? '8h' : severe ? '7d' : '30d'}${plan.scenario === 'enterprise' ? '   # what the IdP changes holds within a working day' : ''}`,
      ...(plan.scenario === 'enterprise' ? [
        '    # People sign in with a password of the gateway\'s own until the IdP signs them in: then add use: [sso]',
        '    # and sso: { clientId, clientSecret: "${IDP_CLIENT_SECRET}" } to the issuer below, and drop this line.',
        '    localPasswords: true',
      ] : []),
    );
    if (plan.idp !== 'none') out.push(...idpBlock(plan));
  }
  out.push('', '# Keys, users, signing keys and the audit chain; created 0600. Relative to this file.');
  out.push(`store: { sqlite: ./.warden/warden.db${severe ? ', synchronous: full' : ''} }`);
  if (plan.auth !== 'none') out.push('', ...authorization(plan.upstreams));
  out.push(
    '',
    `# Limits: ${plan.reasons.limits}.`,
    ...(plan.scenario === 'enterprise' || severe ? [
      'rateLimit:',
      `  perIp: { requestsPerSecond: ${severe ? 5 : 50}, burst: ${severe ? 10 : 100} }`,
      `  perPrincipal: { requestsPerSecond: ${severe ? 5 : 20}, burst: ${severe ? 10 : 40} }   # per user, across their keys`,
      ...(plan.auth === 'apiKeys' ? [`  perKey: { requestsPerSecond: ${severe ? 5 : 10}, burst: ${severe ? 10 : 20} }`] : []),
    ] : ['# rateLimit: the scenario defaults (docs/config.md)']),
    '',
    '# Every decision (who, which upstream and tool, allow or deny, why) in a tamper-evident chain:',
    '# warden audit tail | verify. The JSONL copy is for log shippers.',
    `audit: { store: true, file: ./.warden/audit.jsonl${severe ? ', retainDays: 400' : ''} }`,
    '',
    '# /metrics answers loopback clients only; give a scraper elsewhere a token: metrics: { token: "${METRICS_TOKEN}" }',
    '',
    'upstreams:',
    ...plan.upstreams.flatMap((u) => upstream(u, plan.auth === 'none')),
  );
  return `${out.join('\n')}\n`;
}

function upstream(u: UpstreamAnswer, local: boolean): string[] {
  const lines = [`  ${u.name}:                     # served at /mcp/${u.name}`];
  if (u.url) {
    lines.push(`    url: ${q(u.url)}`, '    # headers: { authorization: "Bearer ${' + `${u.name.toUpperCase().replace(/-/g, '_')}_TOKEN` + '}" }   # its credential, from the environment');
  } else {
    lines.push(`    command: ${list(u.command!)}`, '    env: [PATH, HOME]             # the only variables of yours the server sees');
  }
  if (local) {
    lines.push(u.tools
      ? `    allow: { tools: ${list(u.tools)} }   # what callers may use; the rest is hidden and refused`
      : '    # allow: { tools: [read_file, "list_*"] }   # an allow-list for a server you did not write');
  }
  return lines;
}

/** The company IdP whose tokens the gateway accepts (docs/enterprise.md): which claims and roles to map is the next step. */
function idpBlock(plan: Plan): string[] {
  return [
    `  jwt:                          # ${IDPS[plan.idp]}: docs/enterprise.md says which claims to map`,
    '    issuers:',
    `      - issuer: ${plan.issuer ?? 'https://login.example.com   # CHANGE: exactly the iss of its tokens'}`,
    '        use: [access-token]',
    '        # roles: { "<IdP group>": [user] }   # the IdP\'s groups to the roles below; unmapped tokens are refused',
  ];
}

function authorization(upstreams: UpstreamAnswer[]): string[] {
  const lines = [
    '# Default deny: a caller may use only the tools a scope of theirs opens. Name the tools each scope opens',
    '# (`tools/list` on the server shows them); split reading from changing.',
    'authorization:',
    '  scopes:',
  ];
  for (const u of upstreams) {
    lines.push(`    ${q(`${u.name}:use`)}: { upstreams: [${u.name}], tools: ${list(u.tools ?? [])} }${u.tools ? '' : '   # CHANGE: list its tools'}`);
  }
  lines.push('  roles:', `    user: ${list(upstreams.map((u) => `${u.name}:use`))}`);
  return lines;
}

/** What to run next, for this plan and file. */
export function nextCommands(plan: Plan, file: string): string[] {
  const c = file === 'warden.yaml' ? '' : ` -c ${file}`;
  const first = plan.upstreams[0]?.name ?? 'server';
  return [
    `warden doctor${c}                 # review it like an auth reviewer would`,
    plan.auth === 'apiKeys' ? `warden keys create${c} --subject you --role user --expires 90d   # a key, shown once`
      : plan.auth === 'oauth' ? `warden users add you --role user${c}   # someone to sign in`
        : `warden serve${c}                  # then connect a client to http://localhost:8787/mcp/${first}`,
    plan.auth === 'none' ? `claude mcp add --transport http ${first} http://localhost:8787/mcp/${first}   # or any MCP client`
      : `warden serve${c}`,
  ];
}
