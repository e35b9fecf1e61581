import { revokeClientTokens, revokeGrant, revokeUser } from '../authorization-server/revoke.js';
import { plural, printable } from '../shared/text.js';
import { recordOrFail, type AdminContext } from './context.js';
import { AdminError } from './errors.js';
import { grantView } from './oauth-views.js';
import { revocationAt } from './revocation.js';

/**
 * Revoking OAuth grants and the tokens issued under them. Refresh tokens, codes and grants are deleted from
 * the store; access tokens (self-contained JWTs) are listed as revoked until they expire, so a gateway on the
 * same store refuses them from its next request on.
 */

export type TokenTargetKind = 'user' | 'client' | 'grant';

/** Whose tokens: every grant of a user (and their sign-in sessions), of a client (and its client_credentials tokens), or one grant. */
export interface TokenTarget {
  kind: TokenTargetKind;
  value: string;
}

export interface TokenRevocation extends TokenTarget {
  /** The grants revoked. */
  grants: string[];
  /** Until when access tokens of the target are listed as revoked. */
  listedUntil: string;
  /** For a grant: whether it existed (it is listed as revoked either way), and whose it was. */
  found?: boolean;
  user?: string | null;
  clientId?: string | null;
}

/** Refuses a target that names nothing; needs no store. */
export function checkTokenTarget(target: TokenTarget): void {
  if (!['user', 'client', 'grant'].includes(target.kind)) throw new AdminError('invalid_input', `cannot revoke the tokens of a ${printable(String(target.kind))}: name a user, a client or a grant`);
  if (target.value === '') throw new AdminError('invalid_input', `--${target.kind} needs a value`);
}

export function unknownGrant(grantId: string): AdminError {
  return new AdminError('not_found', `no such grant: ${printable(grantId)}`, { kind: 'grant', id: grantId });
}

export class TokensAdmin {
  constructor(private readonly ctx: AdminContext) {}

  /** Revokes, and records, even when there is nothing to revoke: an unknown grant is listed all the same (fail closed). */
  async revoke(target: TokenTarget): Promise<TokenRevocation> {
    checkTokenTarget(target);
    const { revocation, now, listedUntil } = revocationAt(this.ctx);
    const { kind, value } = target;
    let result: TokenRevocation;
    let reason: string;
    if (kind === 'grant') {
      const before = await this.ctx.store.oauth.find('Grant', value, now);
      const grant = before && grantView(before);
      // Listed even when unknown: access tokens of an already-deleted grant are refused too.
      const found = await revokeGrant(revocation, value);
      result = { kind, value, grants: found ? [value] : [], listedUntil, found, user: grant?.user ?? null, clientId: grant?.clientId ?? null };
      reason = found ? `grant revoked${grant ? ` (user ${grant.user ?? '-'}, client ${grant.clientId ?? '-'})` : ''}` : 'no such grant; listed as revoked anyway';
    } else {
      const grants = kind === 'user' ? await revokeUser(revocation, value) : await revokeClientTokens(revocation, value);
      result = { kind, value, grants, listedUntil };
      reason = `${plural(grants.length, 'grant')} revoked${grants.length ? ` (${grants.join(', ')})` : ''}`;
    }
    await recordOrFail(this.ctx, { action: 'tokens.revoke', target: value, targetKind: kind, reason: `${kind} ${value}: ${reason}` }, 'the revocation stands');
    return result;
  }
}
