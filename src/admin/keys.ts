import type { WardenConfig } from '../config/index.js';
import { ApiKeys, API_KEY_PREFIX, CredentialError, IDENTITY_KEY_USE, parseApiKey, PUBLICATION_WINDOW_MS, rotateSigningKey, type ApiKeyView } from '../credentials/index.js';
import { ACCESS_TOKEN_KEY_USE } from '../authorization-server/keys.js';
import { accessTokenTtlOf } from '../config/index.js';
import { iso, printable } from '../shared/text.js';
import { checkDefined, nowOf, recordOrFail, recordOrUndo, type AdminContext } from './context.js';
import { AdminError, type AdminErrorCode } from './errors.js';
import { durationProblem } from './key-lifetime.js';

/**
 * API keys and signing keys. Safe while a gateway runs on the same store: it reads a key's row on every
 * request, so a revocation holds from its next request on, and it re-reads signing keys every minute.
 */

export interface NewKey {
  /** Who uses the key (a user or service name). */
  subject: string;
  tenant?: string;
  /** A label, e.g. where the key is used. */
  name?: string;
  /** From authorization.scopes. */
  scopes: string[];
  /** From authorization.roles. */
  roles: string[];
  /** Lifetime in ms; absent: the key does not expire. */
  expiresInMs?: number;
}

export type SigningKeyUse = 'access-tokens' | 'identity' | 'all';

export interface SigningKeyRotation {
  use: string;
  label: string;
  kid: string;
  retired: string[];
  /** Until when the retired keys stay published, so that what they signed still verifies. */
  retiredPublishedUntil: string;
}

/** Refuses a key that names a scope or role the config does not define, or none at all; needs no store. */
export function checkNewKey(config: WardenConfig, input: Pick<NewKey, 'scopes' | 'roles' | 'expiresInMs'>): void {
  checkDefined('scope', input.scopes, config);
  checkDefined('role', input.roles, config);
  if (input.scopes.length === 0 && input.roles.length === 0) {
    throw new AdminError('invalid_input', 'a key needs at least one --scope or --role, or it could call nothing');
  }
  if (input.expiresInMs !== undefined) checkDuration('--expires', input.expiresInMs, false);
}

function checkDuration(what: string, ms: number, allowZero: boolean): void {
  const problem = durationProblem(what, ms, allowZero);
  if (problem !== undefined) throw new AdminError('invalid_input', problem);
}

export function unknownKey(id: string): AdminError {
  return new AdminError('not_found', `no API key with id ${printable(id)}`, { kind: 'api_key', id });
}

/**
 * The key id to act on. A whole key is accepted too (handy when revoking one that leaked), but it never
 * appears in a message: a mistyped key would otherwise end up in a terminal's scrollback or a log.
 */
export function keyIdOf(idOrKey: string): string {
  if (!idOrKey.startsWith(API_KEY_PREFIX)) return idOrKey;
  try {
    return parseApiKey(idOrKey).id;
  } catch (err) {
    if (err instanceof CredentialError) throw new AdminError('invalid_input', `${err.message}; or pass the key id instead`);
    throw err;
  }
}

const owner = (view: ApiKeyView): string => (view.tenant ? `${view.subject} (tenant ${view.tenant})` : view.subject);

export class KeysAdmin {
  private readonly apiKeys: ApiKeys;

  constructor(private readonly ctx: AdminContext) {
    this.apiKeys = new ApiKeys(ctx.store.apiKeys, { now: () => nowOf(ctx) });
  }

  /** A new key; its text is in the result only (the store keeps a hash). Recorded, or revoked again. */
  async create(input: NewKey): Promise<{ key: string; view: ApiKeyView }> {
    checkNewKey(this.ctx.config, input);
    const { key, view } = await this.credentials('invalid_input', () => this.apiKeys.create({
      subject: input.subject, tenant: input.tenant, name: input.name, scopes: input.scopes, roles: input.roles,
      expiresAt: input.expiresInMs === undefined ? null : nowOf(this.ctx) + input.expiresInMs,
    }));
    const grants = [view.scopes.length ? `scopes ${view.scopes.join(' ')}` : '', view.roles.length ? `roles ${view.roles.join(' ')}` : ''].filter(Boolean).join(', ');
    await recordOrUndo(this.ctx, {
      action: 'keys.create', target: view.id, targetKind: 'api_key',
      reason: `for ${owner(view)}: ${grants}${view.expiresAt ? `, expires ${iso(view.expiresAt)}` : ''}`,
    }, () => this.apiKeys.revoke(view.id), 'the key was not issued');
    return { key, view };
  }

  /** Active, grace-period keys (and with `includeInactive`, revoked, expired and rotated ones too). */
  list(filter: { subject?: string; tenant?: string; includeInactive?: boolean } = {}): Promise<ApiKeyView[]> {
    return this.apiKeys.list({ subject: filter.subject, tenant: filter.tenant, includeInactive: filter.includeInactive === true });
  }

  /** One key (never the key itself), or AdminError('not_found'). */
  async get(idOrKey: string): Promise<ApiKeyView> {
    const id = keyIdOf(idOrKey);
    const view = await this.apiKeys.get(id);
    if (!view) throw unknownKey(id);
    return view;
  }

  /**
   * A new key with the old one's grants; the old key works for `graceMs` more (0: not at all). The new key
   * keeps the old one's expiry, or lives `expiresInMs` when given.
   */
  async rotate(idOrKey: string, graceMs: number, expiresInMs?: number): Promise<{ key: string; view: ApiKeyView; previous: ApiKeyView }> {
    checkDuration('--grace', graceMs, true);
    if (expiresInMs !== undefined) checkDuration('--expires', expiresInMs, false);
    // A key that cannot be rotated (revoked, rotated already, expired) is a matter of its state, not of the request.
    const rotated = await this.credentials('conflict', () => this.apiKeys.rotate(keyIdOf(idOrKey), graceMs, expiresInMs));
    const { view, previous } = rotated;
    await recordOrFail(this.ctx, {
      action: 'keys.rotate', target: previous.id, targetKind: 'api_key',
      reason: `replaced by ${view.id} for ${owner(view)}; the old key works until ${iso(previous.expiresAt) ?? 'now'}`,
    }, `the key was rotated (the new key is ${view.id})`);
    return rotated;
  }

  /** Revoking twice is harmless. */
  async revoke(idOrKey: string): Promise<ApiKeyView> {
    const view = await this.credentials('invalid_input', () => this.apiKeys.revoke(keyIdOf(idOrKey)));
    await recordOrFail(this.ctx, { action: 'keys.revoke', target: view.id, targetKind: 'api_key', reason: `key of ${owner(view)}` }, 'the key was revoked');
    return view;
  }

  /** New signing keys for access tokens and/or upstream identity JWTs; the old ones stay published until what they signed expires. */
  async rotateSigning(use: SigningKeyUse): Promise<SigningKeyRotation[]> {
    if (!['access-tokens', 'identity', 'all'].includes(use)) throw new AdminError('invalid_input', `unknown signing key use '${printable(String(use))}': use access-tokens, identity or all`);
    const uses = [
      ...(use !== 'identity' ? [{ use: ACCESS_TOKEN_KEY_USE, label: 'access tokens', publishedFor: accessTokenTtlOf(this.ctx.config) }] : []),
      ...(use !== 'access-tokens' ? [{ use: IDENTITY_KEY_USE, label: 'upstream identity JWTs', publishedFor: PUBLICATION_WINDOW_MS }] : []),
    ];
    const rotated: SigningKeyRotation[] = [];
    for (const { use: keyUse, label, publishedFor } of uses) {
      const { kid, retired } = await rotateSigningKey(this.ctx.store.signingKeys, keyUse);
      await recordOrFail(this.ctx, { action: 'keys.rotate-signing', target: kid, targetKind: 'signing_key', reason: `new ${label} key; retired ${retired.join(', ') || 'none'}` },
        `the ${label} key was rotated`);
      rotated.push({ use: keyUse, label, kid, retired, retiredPublishedUntil: new Date(nowOf(this.ctx) + publishedFor).toISOString() });
    }
    return rotated;
  }

  /** Runs a credentials operation, its refusals as admin errors: `invalidInput` says what a refused input means here. */
  private async credentials<T>(invalidInput: AdminErrorCode, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (!(err instanceof CredentialError)) throw err;
      if (err.code === 'not_found' && err.keyId !== undefined) throw unknownKey(err.keyId);
      throw new AdminError(err.code === 'invalid_input' ? invalidInput : 'conflict', err.message, err.keyId === undefined ? undefined : { kind: 'api_key', id: err.keyId });
    }
  }
}
