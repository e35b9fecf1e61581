export type CredentialErrorCode =
  | 'malformed'
  | 'bad_checksum'
  | 'unknown'
  | 'expired'
  | 'revoked'
  | 'rotated'
  | 'not_found'
  | 'invalid_input';

/**
 * A credential that cannot be used, or a key operation that was refused. Messages say what is wrong and what
 * to do; they never contain the key text, since they end up in logs, audit records and HTTP answers.
 */
export class CredentialError extends Error {
  constructor(
    readonly code: CredentialErrorCode,
    message: string,
    /** The key id, when one could be read: it is public (it is how `warden keys` names keys). */
    readonly keyId?: string,
  ) {
    super(message);
    this.name = 'CredentialError';
  }
}

export function isCredentialError(err: unknown): err is CredentialError {
  return err instanceof CredentialError;
}
