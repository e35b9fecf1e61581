/**
 * The operations people perform on keys, users, clients, tokens and the audit trail, as services that every
 * front end calls: the CLI today, the admin API and console later. Each validates its input, makes the change,
 * and writes the admin record naming the actor; refusals are AdminErrors.
 */
import type { AdminContext } from './context.js';
import { ClientsAdmin } from './clients.js';
import { KeysAdmin } from './keys.js';
import { TokensAdmin } from './tokens.js';
import { UsersAdmin } from './users.js';
import { AuditAdmin } from './audit.js';

export { AdminError, isAdminError, type AdminErrorCode } from './errors.js';
export { chainRecorder, type AdminContext, type AdminRecorder } from './context.js';
export type { AdminActor, AdminChange } from '../audit/index.js';
export { KeysAdmin, checkNewKey, keyIdOf, unknownKey, type NewKey, type SigningKeyUse, type SigningKeyRotation } from './keys.js';
export { durationProblem, MAX_DURATION_MS } from './key-lifetime.js';
export { UsersAdmin, checkNewUser, checkRoles, checkPassword, userDirectory, type NewUser, type UserRevocation } from './users.js';
export { ClientsAdmin, checkNewServiceClient, clientCredentialsOff, unknownClient, type NewServiceClient, type ClientRevocation } from './clients.js';
export { TokensAdmin, checkTokenTarget, unknownGrant, type TokenTarget, type TokenTargetKind, type TokenRevocation } from './tokens.js';
export { AuditAdmin, auditEntry, checkAuditWindow, AUDIT_PAGE, MAX_AUDIT_LIMIT, type AuditEntry, type AuditFilter, type AuditWindow } from './audit.js';
export { clientView, grantView, payloadOf, type ClientKind, type ClientView, type GrantView } from './oauth-views.js';

export interface AdminServices {
  keys: KeysAdmin;
  users: UsersAdmin;
  clients: ClientsAdmin;
  tokens: TokensAdmin;
  audit: AuditAdmin;
}

/** Every service over one context (one store, one config, one actor). */
export function adminServices(ctx: AdminContext): AdminServices {
  return {
    keys: new KeysAdmin(ctx),
    users: new UsersAdmin(ctx),
    clients: new ClientsAdmin(ctx),
    tokens: new TokensAdmin(ctx),
    audit: new AuditAdmin(ctx.store.audit),
  };
}
