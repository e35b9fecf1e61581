import { createHash } from 'node:crypto';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { OAuthModelStore } from '../store/index.js';
import { hashClientSecret, isHashedClientSecret } from './client-secrets.js';

/**
 * oidc-provider's storage adapter over the store's `oauth_models` table.
 *
 * What it adds to plain storage:
 * - **No refresh token, code or client secret at rest.** A token's id is the token itself, so rows are keyed
 *   by its SHA-256 and the payload is stored without its `jti`; user codes likewise, and client secrets as
 *   digests (`client-secrets.ts`). Sessions and device codes keep their `jti` in the payload, because the
 *   provider also finds them by uid or user code and must get the id back; both are short-lived.
 * - **A refresh-token reuse interval.** oidc-provider revokes the whole grant when a consumed refresh token
 *   comes back, which is right for a stolen token and wrong for two requests of one client racing to refresh
 *   (parallel tool calls, several replicas). Within `refreshReuseIntervalMs` of its first use a consumed
 *   refresh token is reported as unconsumed, so the late request is answered with a fresh pair too; after
 *   it, reuse kills the grant. The interval counts from the first consumption, so it cannot be stretched.
 */

/** Models looked up by a client's or browser's secret value: keyed by its digest. Grants and clients are looked up by public ids. */
const PUBLIC_ID_MODELS = new Set(['Client', 'Grant', 'ReplayDetection', 'PushedAuthorizationRequest']);
/** Models found by another key (uid, user code) too: their payload must carry the id back. */
const KEEP_JTI = new Set(['Session', 'DeviceCode']);

export function storageId(model: string, id: string): string {
  return PUBLIC_ID_MODELS.has(model) ? id : digest(id);
}

function digest(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}

export interface AdapterOptions {
  refreshReuseIntervalMs: number;
  now?: () => number;
}

export function storeAdapter(store: OAuthModelStore, options: AdapterOptions): new (model: string) => Adapter {
  const now = options.now ?? Date.now;
  return class StoreAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const stored: Record<string, unknown> = { ...payload };
      if (!PUBLIC_ID_MODELS.has(this.model) && !KEEP_JTI.has(this.model)) delete stored.jti;
      if (this.model === 'Client' && typeof stored.client_secret === 'string' && !isHashedClientSecret(stored.client_secret)) {
        stored.client_secret = hashClientSecret(stored.client_secret);
      }
      await store.upsert({
        model: this.model,
        id: storageId(this.model, id),
        payload: JSON.stringify(stored),
        grantId: typeof payload.grantId === 'string' ? payload.grantId : null,
        userCode: typeof payload.userCode === 'string' ? digest(payload.userCode) : null,
        uid: typeof payload.uid === 'string' ? payload.uid : null,
        expiresAt: expiresIn ? now() + expiresIn * 1000 : null,
        consumedAt: null,
      });
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      return this.restore(await store.find(this.model, storageId(this.model, id), now()), id);
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return this.restore(await store.findByUid(this.model, uid, now()), undefined);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return this.restore(await store.findByUserCode(this.model, digest(userCode), now()), undefined);
    }

    async consume(id: string): Promise<void> {
      await store.consume(this.model, storageId(this.model, id), now());
    }

    async destroy(id: string): Promise<void> {
      await store.destroy(this.model, storageId(this.model, id));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await store.revokeByGrantId(this.model, grantId);
    }

    private restore(record: Awaited<ReturnType<OAuthModelStore['find']>>, id: string | undefined): AdapterPayload | undefined {
      if (!record) return undefined;
      const payload = JSON.parse(record.payload) as AdapterPayload;
      if (id !== undefined && !PUBLIC_ID_MODELS.has(this.model)) payload.jti = id;
      if (record.consumedAt !== null) {
        const withinReuseInterval = this.model === 'RefreshToken' && now() - record.consumedAt <= options.refreshReuseIntervalMs;
        if (!withinReuseInterval) payload.consumed = Math.floor(record.consumedAt / 1000);
      }
      return payload;
    }
  };
}
