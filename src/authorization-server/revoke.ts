import type { OAuthModelStore, RevocationStore, Store } from '../store/index.js';

/**
 * Revocation that holds on the next request. Refresh tokens, codes and grants are deleted from the store, so
 * the provider refuses them at once; access tokens are self-contained JWTs that nothing deletes, so each
 * revocation is also listed (`RevocationStore`) until every access token it covers has expired.
 */

/**
 * The models that belong to a grant and die with it (oidc-provider's names). Client-credentials tokens have
 * no grant: the `client` entry of the revocation list covers them.
 */
export const GRANT_BOUND_MODELS = ['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest'] as const;

export interface RevocationContext {
  oauth: OAuthModelStore;
  revocations: RevocationStore;
  /** The longest access-token lifetime: how long a revocation must stay listed. */
  accessTokenTtlMs: number;
  now?: number;
}

export function revocationContext(store: Store, accessTokenTtlMs: number): RevocationContext {
  return { oauth: store.oauth, revocations: store.revocations, accessTokenTtlMs };
}

/** Deletes a grant and everything issued under it, and lists it; true when the grant existed. */
export async function revokeGrant(ctx: RevocationContext, grantId: string): Promise<boolean> {
  const now = ctx.now ?? Date.now();
  await listRevocation(ctx, 'grant', grantId, now);
  for (const model of GRANT_BOUND_MODELS) await ctx.oauth.revokeByGrantId(model, grantId);
  const existed = (await ctx.oauth.find('Grant', grantId, now)) !== undefined;
  await ctx.oauth.destroy('Grant', grantId);
  return existed;
}

export async function listRevocation(ctx: RevocationContext, kind: 'grant' | 'user' | 'client' | 'jti', value: string, now = ctx.now ?? Date.now()): Promise<void> {
  // Listed first: between the two steps a token is refused twice over rather than accepted once.
  await ctx.revocations.add({ kind, value }, now, listedUntil(ctx, now));
}

/** Until when a revocation listed at `now` stays listed: past the end of every access token it covers. */
export function listedUntil(ctx: RevocationContext, now: number): number {
  return now + ctx.accessTokenTtlMs + 60_000;
}

/** Every grant (and so every token) of a user; returns the grant ids. */
export async function revokeUser(ctx: RevocationContext, username: string): Promise<string[]> {
  const now = ctx.now ?? Date.now();
  await listRevocation(ctx, 'user', username, now);
  const grants = await ctx.oauth.list({ model: 'Grant', accountId: username }, now);
  for (const g of grants) await revokeGrant({ ...ctx, now }, g.id);
  // Sessions keep a user signed in at the authorization server: end them too, or the next authorization skips the login page.
  for (const s of await ctx.oauth.list({ model: 'Session', accountId: username }, now)) await ctx.oauth.destroy('Session', s.id);
  return grants.map((g) => g.id);
}

/** Every grant of a client, and the client's own (client_credentials) tokens; returns the grant ids. */
export async function revokeClientTokens(ctx: RevocationContext, clientId: string): Promise<string[]> {
  const now = ctx.now ?? Date.now();
  await listRevocation(ctx, 'client', clientId, now);
  const grants = await ctx.oauth.list({ model: 'Grant', clientId }, now);
  for (const g of grants) await revokeGrant({ ...ctx, now }, g.id);
  return grants.map((g) => g.id);
}

/** Removes a client registration and revokes everything it holds; true when it existed. */
export async function removeClient(ctx: RevocationContext, clientId: string): Promise<boolean> {
  const now = ctx.now ?? Date.now();
  const existed = (await ctx.oauth.find('Client', clientId, now)) !== undefined;
  await revokeClientTokens({ ...ctx, now }, clientId);
  await ctx.oauth.destroy('Client', clientId);
  return existed;
}
