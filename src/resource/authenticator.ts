import type { IncomingMessage } from 'node:http';
import { ANONYMOUS, type Principal } from '../shared/principal.js';

/**
 * Turns a request's credential into a principal, or throws an AuthenticationError, which the pipeline
 * answers with a 401 challenge. API keys, JWTs and mTLS each become one implementation of this; a chain
 * tries them in turn.
 */
export interface Authenticator {
  readonly mode: string;
  authenticate(req: IncomingMessage): Promise<Principal> | Principal;
}

/**
 * `auth: none` (local scenario only; the config refuses it beyond loopback). Every caller is the same local
 * user; a credential that a client sends anyway is ignored and never forwarded.
 */
export const noAuthentication: Authenticator = {
  mode: 'none',
  authenticate: () => ANONYMOUS,
};
