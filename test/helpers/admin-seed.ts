import type { Store } from '../../src/store/index.js';
import { oauthRecord } from './cli-config.js';

/** Grants, with a refresh token and a sign-in session each, as oidc-provider leaves them: `[user, client, grant id]`. */
export async function seedGrants(store: Store, grants: [string, string, string][]): Promise<void> {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  for (const [user, clientId, id] of grants) {
    await store.oauth.upsert(oauthRecord('Grant', id, { accountId: user, clientId, iat: exp - 3600, exp, openid: { scope: 'openid' }, resources: { 'http://gw/mcp/notes': 'notes:read' } }, { expiresAt: exp * 1000 }));
    await store.oauth.upsert(oauthRecord('RefreshToken', `rt-${id}`, { accountId: user, clientId, grantId: id }, { grantId: id, expiresAt: exp * 1000 }));
    await store.oauth.upsert(oauthRecord('Session', `s-${id}`, { accountId: user }, { expiresAt: exp * 1000 }));
  }
}

/** What of the seeded grants is left, and what is listed as revoked. */
export async function leftOf(store: Store, ids: string[]): Promise<{ grants: string[]; refreshTokens: string[] }> {
  const now = Date.now();
  const grants: string[] = [];
  const refreshTokens: string[] = [];
  for (const id of ids) {
    if (await store.oauth.find('Grant', id, now)) grants.push(id);
    if (await store.oauth.find('RefreshToken', `rt-${id}`, now)) refreshTokens.push(`rt-${id}`);
  }
  return { grants, refreshTokens };
}

export function listed(store: Store, kind: 'user' | 'client' | 'grant', value: string): Promise<boolean> {
  return store.revocations.anyRevoked([{ kind, value }], 0);
}
