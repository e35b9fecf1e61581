import { isAdminError } from '../errors.js';
import { RedisUnavailableError } from '../../store/redis/connection.js';

/** Why an admin request was refused. Codes are stable: API clients branch on them, the console words them. */
export type AdminHttpCode =
  | 'invalid_input' | 'not_found' | 'conflict' | 'audit_failed'
  | 'unauthorized' | 'forbidden' | 'csrf' | 'reauth_required' | 'rate_limited' | 'remote_refused'
  | 'method_not_allowed' | 'unsupported_media_type' | 'payload_too_large' | 'idp_unavailable' | 'shared_state_unavailable' | 'internal_error';

const STATUS: Record<AdminHttpCode, number> = {
  invalid_input: 400, not_found: 404, conflict: 409, audit_failed: 500,
  unauthorized: 401, forbidden: 403, csrf: 403, reauth_required: 401, rate_limited: 429, remote_refused: 403,
  method_not_allowed: 405, unsupported_media_type: 415, payload_too_large: 413, idp_unavailable: 502, shared_state_unavailable: 503, internal_error: 500,
};

/** A refused admin request: its status, code and a message that says what to do; never a secret. */
export class AdminHttpError extends Error {
  readonly status: number;
  constructor(readonly code: AdminHttpCode, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
    this.name = 'AdminHttpError';
    this.status = STATUS[code];
  }
}

/** An AdminHttpError for anything the admin services or this layer threw; undefined for an unexpected failure. */
export function httpErrorOf(err: unknown): AdminHttpError | undefined {
  if (err instanceof AdminHttpError) return err;
  if (isAdminError(err)) return new AdminHttpError(err.code, err.message);
  // Several instances: Redis (where company sign-ins wait for their callback) did not answer.
  if (err instanceof RedisUnavailableError) return new AdminHttpError('shared_state_unavailable', 'The gateway cannot reach its shared state right now; try again in a moment', { 'retry-after': '1' });
  return undefined;
}
