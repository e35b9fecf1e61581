import type { Principal } from '../shared/principal.js';
import { CredentialError, API_KEY_PREFIX, type ApiKeys } from '../credentials/index.js';
import type { BearerVerifier } from './authenticator.js';
import { AuthenticationError } from './errors.js';

/** What a caller is told about each refused key: enough to fix their side, nothing about other keys. */
const REFUSALS: Record<string, string> = {
  malformed: `Unauthorized: the bearer token is not a warden API key (${API_KEY_PREFIX} followed by 61 letters and digits)`,
  bad_checksum: 'Unauthorized: the API key fails its checksum; check for a copy/paste error',
  unknown: 'Unauthorized: the API key is not recognized',
  expired: 'Unauthorized: the API key has expired; ask for a new one',
  revoked: 'Unauthorized: the API key was revoked',
  rotated: 'Unauthorized: the API key was rotated and its grace period is over; use its replacement',
};

/** `Authorization: Bearer wdn_...`: the key is verified against the store on every request, so revocation holds at once. */
export class ApiKeyVerifier implements BearerVerifier {
  readonly kind = 'api_key' as const;
  readonly describes = 'an API key';

  constructor(private readonly keys: ApiKeys) {}

  accepts(token: string): boolean {
    return token.startsWith(API_KEY_PREFIX);
  }

  async verify(token: string): Promise<Principal> {
    try {
      const key = await this.keys.verify(token);
      return {
        subject: key.subject,
        ...(key.tenant ? { tenant: key.tenant } : {}),
        credential: { kind: 'api_key', id: key.id },
        scopes: key.scopes,
        roles: key.roles,
      };
    } catch (err) {
      if (err instanceof CredentialError) {
        throw new AuthenticationError(REFUSALS[err.code] ?? 'Unauthorized: the API key is not valid', 'invalid_token', err.keyId);
      }
      throw err;
    }
  }
}
