import { accessTokenTtlOf } from '../config/index.js';
import { listedUntil, revocationContext, type RevocationContext } from '../authorization-server/revoke.js';
import { nowOf, type AdminContext } from './context.js';

/** A revocation context as of now, and until when what it lists stays listed. */
export function revocationAt(ctx: AdminContext): { revocation: RevocationContext; now: number; listedUntil: string } {
  const now = nowOf(ctx);
  const revocation = { ...revocationContext(ctx.store, accessTokenTtlOf(ctx.config)), now };
  return { revocation, now, listedUntil: new Date(listedUntil(revocation, now)).toISOString() };
}
