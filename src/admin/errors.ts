import type { AdminTargetKind } from '../audit/index.js';

/**
 * `invalid_input`: the request itself is wrong (an unknown scope, an empty name): fix it and ask again.
 * `not_found`: what it names does not exist. `conflict`: it exists, but its state refuses the change (a user
 * who exists already, a key rotated already). `audit_failed`: the change could not be recorded; the message
 * says whether it was undone or stands.
 */
export type AdminErrorCode = 'invalid_input' | 'not_found' | 'conflict' | 'audit_failed';

/** A refused or failed admin operation. The message says what is wrong and how to fix it, and never holds a secret. */
export class AdminError extends Error {
  constructor(
    readonly code: AdminErrorCode,
    message: string,
    /** What the operation was about, when it names one thing (callers word their own hints from it, e.g. for `not_found`). */
    readonly target?: { kind: AdminTargetKind; id: string },
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

export function isAdminError(err: unknown): err is AdminError {
  return err instanceof AdminError;
}
