import { randomBytes } from 'node:crypto';
import { oauthMtlsOf, type WardenConfig } from '../config/index.js';
import type { OAuthModelRecord } from '../store/index.js';
import { generateClientSecret, hashClientSecret } from '../authorization-server/client-secrets.js';
import { removeClient } from '../authorization-server/revoke.js';
import { CONTROL_CHARACTERS, known, plural, printable } from '../shared/text.js';
import { checkDefined, nowOf, recordOrFail, recordOrUndo, type AdminContext } from './context.js';
import { AdminError } from './errors.js';
import { clientView, grantView, payloadOf, str, type ClientKind, type ClientView, type GrantView } from './oauth-views.js';
import { revocationAt } from './revocation.js';

/**
 * OAuth clients of the embedded authorization server: dynamic registrations, and service clients made here
 * for the client_credentials grant. Safe while a gateway runs on the same store: a removal holds from its next
 * request on.
 */

export interface NewServiceClient {
  /** What the client is, e.g. the service that uses it. */
  name: string;
  /** Scopes from authorization.scopes; at least one. */
  scopes: string[];
  /**
   * RFC 8705 tls_client_auth instead of a secret: the one name its certificate must carry (e.g.
   * tls_client_auth_san_uri: a SPIFFE ID). Its tokens are bound to the certificate (auth.oauth.mtls.boundTokens).
   */
  certificate?: { property: CertificateName; value: string };
}

export const CERTIFICATE_NAMES = ['tls_client_auth_subject_dn', 'tls_client_auth_san_uri', 'tls_client_auth_san_dns', 'tls_client_auth_san_email', 'tls_client_auth_san_ip'] as const;
export type CertificateName = (typeof CERTIFICATE_NAMES)[number];

export interface ClientRevocation {
  client_id: string;
  /** Whether a registration was there to remove (an unknown id is listed as revoked all the same). */
  removed: boolean;
  kind: ClientKind | null;
  client_name: string | null;
  /** The grants revoked with it. */
  grants: string[];
  /** Until when its access tokens are listed as revoked. */
  listedUntil: string;
}

/** The input of `addService` as it will be stored, or AdminError('invalid_input'); needs no store, so callers check before opening one. */
export function checkNewServiceClient(config: WardenConfig, input: NewServiceClient): NewServiceClient {
  const name = input.name.trim();
  if (name === '' || CONTROL_CHARACTERS.test(name)) throw new AdminError('invalid_input', '--name must be non-empty text without control characters');
  const scopes = [...new Set(input.scopes)];
  if (scopes.length === 0) {
    throw new AdminError('invalid_input', `a client needs at least one --scope, or it could call nothing (${known(Object.keys(config.authorization.scopes))})`);
  }
  checkDefined('scope', scopes, config);
  if (!input.certificate) return { name, scopes };
  const { property, value } = input.certificate;
  if (!CERTIFICATE_NAMES.includes(property) || value.trim() === '' || CONTROL_CHARACTERS.test(value)) {
    throw new AdminError('invalid_input', `a certificate name is one of ${CERTIFICATE_NAMES.join(', ')} with non-empty text`);
  }
  if (!oauthMtlsOf(config)?.clientAuth.includes('tls_client_auth')) {
    throw new AdminError('invalid_input', 'this config offers no tls_client_auth, so the client could never authenticate: set listen.tls.clientCa (or auth.mtls.header behind a proxy), and leave auth.oauth.mtls on (docs/tls.md)');
  }
  return { name, scopes, certificate: { property, value: value.trim() } };
}

/** Whether the config keeps service clients from getting tokens (they can be added, but not used yet). */
export function clientCredentialsOff(config: WardenConfig): boolean {
  return config.auth !== 'none' && config.auth.oauth !== undefined && !config.auth.oauth.clientCredentials;
}

export function unknownClient(clientId: string): AdminError {
  return new AdminError('not_found', `no client with id ${printable(clientId)}`, { kind: 'client', id: clientId });
}

export class ClientsAdmin {
  constructor(private readonly ctx: AdminContext) {}

  /**
   * Clients with their live grant counts. Without `includeIdle`, only those in use (service clients, and
   * registrations holding a live grant): MCP clients register anew on many a start. `idle` counts those left out.
   */
  async list(options: { includeIdle?: boolean } = {}): Promise<{ clients: ClientView[]; idle: number }> {
    const { store } = this.ctx;
    const now = nowOf(this.ctx);
    const grantsPer = new Map<string, number>();
    for (const g of await store.oauth.list({ model: 'Grant' }, now)) {
      const clientId = str(payloadOf(g).clientId);
      if (clientId !== null) grantsPer.set(clientId, (grantsPer.get(clientId) ?? 0) + 1);
    }
    const all = (await store.oauth.list({ model: 'Client' }, now)).map((r) => clientView(r, grantsPer.get(r.id) ?? 0));
    const clients = options.includeIdle ? all : all.filter((c) => c.kind === 'service' || c.liveGrants > 0);
    return { clients, idle: all.length - clients.length };
  }

  /** One client and its grants, or AdminError('not_found'). */
  async show(clientId: string): Promise<{ client: ClientView; grants: GrantView[] }> {
    const now = nowOf(this.ctx);
    const found = await this.ctx.store.oauth.find('Client', clientId, now);
    if (!found) throw unknownClient(clientId);
    const grants = (await this.ctx.store.oauth.list({ model: 'Grant', clientId }, now)).map(grantView);
    return { client: clientView(found, grants.length), grants };
  }

  /**
   * A service client for the client_credentials grant. The secret is in the result only: the store keeps its
   * hash. A client that authenticates with its certificate has no secret.
   */
  async addService(input: NewServiceClient & { certificate?: undefined }): Promise<{ client: ClientView; secret: string }>;
  async addService(input: NewServiceClient): Promise<{ client: ClientView; secret: string | undefined }>;
  async addService(input: NewServiceClient): Promise<{ client: ClientView; secret: string | undefined }> {
    const { name, scopes, certificate } = checkNewServiceClient(this.ctx.config, input);
    const clientId = `svc_${randomBytes(12).toString('base64url')}`; // 96 random bits
    const secret = certificate ? undefined : generateClientSecret();
    const bound = oauthMtlsOf(this.ctx.config)?.boundTokens ?? false;
    const stored: OAuthModelRecord = {
      model: 'Client', id: clientId, grantId: null, userCode: null, uid: null, expiresAt: null, consumedAt: null,
      payload: JSON.stringify({
        client_id: clientId,
        ...(secret ? { client_secret: hashClientSecret(secret), token_endpoint_auth_method: 'client_secret_basic' } : {}),
        ...(certificate ? { token_endpoint_auth_method: 'tls_client_auth', [certificate.property]: certificate.value, tls_client_certificate_bound_access_tokens: bound } : {}),
        client_name: name,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: scopes.join(' '),
        client_id_issued_at: Math.floor(nowOf(this.ctx) / 1000),
      }),
    };
    await this.ctx.store.oauth.upsert(stored);
    const how = certificate ? `, tls_client_auth ${certificate.property.replace('tls_client_auth_', '')} ${certificate.value.slice(0, 200)}` : '';
    await recordOrUndo(this.ctx, { action: 'clients.add', target: clientId, targetKind: 'client', reason: `service client "${name}": scopes ${scopes.join(' ')}${how}` },
      () => this.ctx.store.oauth.destroy('Client', clientId), 'the client was not added');
    return { client: clientView(stored, 0), secret };
  }

  /**
   * Removes a client: its registration, grants and tokens. Even an unknown id is listed as revoked (fail
   * closed) and loses any grant it still holds; `removed` tells whether it was registered.
   */
  async revoke(clientId: string): Promise<ClientRevocation> {
    const { revocation, now, listedUntil } = revocationAt(this.ctx);
    const found = await this.ctx.store.oauth.find('Client', clientId, now);
    const view = found && clientView(found, 0);
    const grants = (await this.ctx.store.oauth.list({ model: 'Grant', clientId }, now)).map((g) => g.id);
    await removeClient(revocation, clientId);
    const what = view
      ? `${view.kind} client${view.client_name ? ` "${view.client_name}"` : ''}: registration removed`
      : 'no such client registered; listed as revoked anyway';
    await recordOrFail(this.ctx, {
      action: 'clients.revoke', target: clientId, targetKind: 'client',
      reason: `${what}, ${plural(grants.length, 'grant')} revoked${grants.length ? ` (${grants.join(', ')})` : ''}`,
    }, 'the client was revoked');
    return { client_id: clientId, removed: view !== undefined, kind: view?.kind ?? null, client_name: view?.client_name ?? null, grants, listedUntil };
  }
}
