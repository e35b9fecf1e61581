import { randomBytes } from 'node:crypto';
import type { WardenConfig } from '../../config/index.js';
import type { Store } from '../../store/index.js';
import { adminServices, type AdminRecorder, type AdminServices } from '../index.js';
import { SessionsAdmin, type LiveSessionSource } from '../sessions.js';
import type { AdminIdentity } from './gate.js';

/** What the admin front ends work with, apart from the request: built once per gateway. */
export interface AdminBackend {
  config: WardenConfig;
  store: Store;
  /** Where admin records go: the gateway's audit trail (so also its copies: file, stdout). */
  recorder: AdminRecorder;
  sessions: ReadonlyMap<string, LiveSessionSource>;
  /** Tools each upstream lists now, for "what each scope opens"; absent where it could not be asked. */
  liveTools?: () => Promise<Record<string, string[] | { error: string }>>;
}

export type ActingServices = AdminServices & { sessions: SessionsAdmin };

/** The admin services acting as `identity`: every change they make is recorded under the administrator's name. */
export function servicesFor(backend: AdminBackend, identity: AdminIdentity, requestId: string): ActingServices {
  const ctx = {
    store: backend.store,
    config: backend.config,
    recorder: backend.recorder,
    actor: {
      subject: identity.subject,
      ...(identity.tenant ? { tenant: identity.tenant } : {}),
      credential: { kind: identity.via === 'session' ? 'admin_session' as const : 'api_key' as const, id: identity.credentialId },
      requestId,
    },
  };
  return { ...adminServices(ctx), sessions: new SessionsAdmin(ctx, backend.sessions) };
}

/** A generated password for a user added or reset without one: shown once, in that answer. */
export function generatedPassword(): string {
  return randomBytes(18).toString('base64url');
}

/** Whether users sign in with local passwords (the embedded authorization server is on). */
export function localPasswords(config: WardenConfig): boolean {
  return config.auth !== 'none' && config.auth.oauth !== undefined;
}

/** The configuration as an administrator may see it: what is on, never a header value, env value or token. */
export function configSummary(config: WardenConfig): Record<string, unknown> {
  const auth = config.auth === 'none' ? 'none' : {
    apiKeys: config.auth.apiKeys !== undefined,
    oauth: config.auth.oauth ? {
      registration: config.auth.oauth.registration.enabled, deviceFlow: config.auth.oauth.deviceFlow,
      clientCredentials: config.auth.oauth.clientCredentials, accessTokenTtlMs: config.auth.oauth.accessTokenTtl,
    } : false,
  };
  return {
    scenario: config.scenario,
    listen: config.listen,
    publicUrl: config.publicUrl ?? null,
    auth,
    upstreams: Object.fromEntries(Object.entries(config.upstreams).map(([name, u]) => [name, {
      kind: u.url ? 'http' : 'stdio',
      // Origin and path only: a URL's user info or query may hold a credential.
      ...(u.url ? { url: `${new URL(u.url).origin}${new URL(u.url).pathname}` } : { command: u.command?.[0] }),
      headers: Object.keys(u.headers ?? {}),
      allowList: u.allow !== undefined,
    }])),
    scopes: Object.keys(config.authorization.scopes),
    roles: config.authorization.roles,
    rateLimit: Object.fromEntries(Object.entries(config.rateLimit).map(([k, v]) => [k, v !== false])),
    audit: { store: config.audit.store, file: config.audit.file !== undefined, stdout: config.audit.stdout, retainDays: config.audit.retainDays, arguments: config.audit.arguments.enabled },
    metrics: config.metrics.enabled,
    admin: config.admin ? { roles: config.admin.roles, allowRemote: config.admin.allowRemote } : false,
  };
}
