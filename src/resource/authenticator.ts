import type { IncomingMessage } from 'node:http';
import { ANONYMOUS, type Principal } from '../shared/principal.js';
import { extractCredential } from './bearer.js';
import { dpopHeaders, type Presentation } from './dpop.js';
import { AuthenticationError } from './errors.js';

/** What the credential must fit besides being valid: the resource the request is for. */
export interface RequestContext {
  /** The resource URLs of the upstream being called (RFC 8707): an access token's audience must be one of them. */
  audiences: readonly string[];
  /** The request's method and public URL: what a DPoP proof must name (absent outside HTTP). */
  request?: { method: string; url: string };
  /** How the token came (Bearer or DPoP) and its proofs: filled in by the bearer authenticator. */
  presentation?: Presentation;
}

/**
 * Turns a request's credential into a principal, or throws an AuthenticationError, which the pipeline
 * answers with a 401 challenge.
 */
export interface Authenticator {
  readonly mode: string;
  authenticate(req: IncomingMessage, context: RequestContext): Promise<Principal> | Principal;
}

/** One kind of bearer credential: API keys, our own access tokens, later other issuers' JWTs. */
export interface BearerVerifier {
  /** Names the credential kind in messages, e.g. "an API key". */
  readonly describes: string;
  /** The credential kind of the principals it makes, also named in the record of a refusal. */
  readonly kind: Principal['credential']['kind'];
  /** True for a verifier that checks DPoP proofs: only its tokens may come with `Authorization: DPoP`. */
  readonly dpop?: boolean;
  /** Whether the token has this verifier's shape; the first verifier that claims a token decides on it. */
  accepts(token: string): boolean;
  verify(token: string, context: RequestContext): Promise<Principal>;
}

/**
 * `Authorization: Bearer` with a chain of verifiers, tried by the shape of the token: each credential kind is
 * one verifier, so adding an issuer adds a link, not a branch. A token no verifier claims is refused.
 */
export class BearerAuthenticator implements Authenticator {
  readonly mode = 'bearer';
  private readonly expected: string;
  private readonly neither: string;

  constructor(private readonly verifiers: readonly BearerVerifier[]) {
    if (verifiers.length === 0) throw new RangeError('a bearer authenticator needs at least one verifier');
    this.expected = verifiers.map((v) => v.describes).join(' or ');
    this.neither = verifiers.length === 1 ? verifiers[0]!.describes : `neither ${verifiers.map((v) => v.describes).join(' nor ')}`;
  }

  async authenticate(req: IncomingMessage, context: RequestContext): Promise<Principal> {
    const credential = extractCredential(req, this.verifiers.some((v) => v.dpop));
    if (credential === undefined) throw new AuthenticationError(`Unauthorized: this endpoint needs ${this.expected}; send Authorization: Bearer <credential>`);
    const { token, scheme } = credential;
    const verifier = this.verifiers.find((v) => v.accepts(token)) ?? (this.verifiers.length === 1 ? this.verifiers[0] : undefined);
    if (!verifier) throw new AuthenticationError(`Unauthorized: the bearer token is ${this.neither}`, 'invalid_token');
    if (scheme === 'dpop' && !verifier.dpop) {
      throw new AuthenticationError(`Unauthorized: ${verifier.describes} is a bearer credential; send it as Authorization: Bearer`, 'invalid_token', undefined, verifier.kind);
    }
    const presentation: Presentation = { scheme, proofs: dpopHeaders(req), method: context.request?.method ?? req.method ?? '', url: context.request?.url ?? '' };
    try {
      return await verifier.verify(token, { ...context, presentation });
    } catch (err) {
      if (!(err instanceof AuthenticationError) || err.credentialKind === verifier.kind) throw err;
      throw Object.assign(new AuthenticationError(err.message, err.error, err.credentialId, verifier.kind, err.detail), { problem: err.problem, unavailable: err.unavailable, dpop: err.dpop });
    }
  }
}

/**
 * `auth: none` (local scenario only; the config refuses it beyond loopback). Every caller is the same local
 * user; a credential that a client sends anyway is ignored and never forwarded.
 */
export const noAuthentication: Authenticator = {
  mode: 'none',
  authenticate: () => ANONYMOUS,
};
