import { sameSecret } from '../shared/constant-time.js';
import type { Principal } from '../shared/principal.js';
import { AuthenticationError } from './errors.js';

/**
 * Certificate-bound access tokens (RFC 8705 §3) at the resource: a token whose `cnf` claim names a
 * certificate's SHA-256 thumbprint (`x5t#S256`) is good only on a request that came with that certificate,
 * so a stolen token is worth nothing without the client's private key. The same check applies to the
 * embedded authorization server's tokens and to a company IdP's: it is one comparison.
 */

const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;

/**
 * The certificate a token's `cnf` claim binds it to, or undefined when it names none. A `cnf` this gateway
 * cannot check (a DPoP key where no DPoP verifier runs, an unknown method, a malformed value) is refused: a
 * sender-constrained token used as a bearer token would pass whoever holds it. `dpop`: a DPoP verifier checks
 * `jkt` (dpop.ts), so it may stand here.
 */
export function certificateConfirmation(cnf: unknown, credentialId?: string, checked: { dpop?: boolean } = {}): { x5t: string } | undefined {
  if (cnf === undefined) return undefined;
  const refuse = (why: string) => new AuthenticationError(`Unauthorized: ${why}`, 'invalid_token', credentialId, undefined, { reason: why });
  if (cnf === null || typeof cnf !== 'object' || Array.isArray(cnf)) throw refuse('the token\'s cnf claim is not an object');
  const methods = Object.keys(cnf);
  if (methods.length === 0) throw refuse('the token\'s cnf claim names no confirmation method');
  const other = methods.filter((m) => m !== 'x5t#S256' && !(m === 'jkt' && checked.dpop));
  if (other.length > 0) {
    // The names are the issuer's text: bounded.
    throw refuse(`sender-constrained tokens of this kind (cnf ${other.join(', ').slice(0, 100)}) are not accepted here yet`);
  }
  if (!methods.includes('x5t#S256')) return undefined;
  const x5t = (cnf as Record<string, unknown>)['x5t#S256'];
  if (typeof x5t !== 'string' || !THUMBPRINT.test(x5t)) throw refuse('the token\'s cnf x5t#S256 is not a SHA-256 certificate thumbprint');
  return { x5t };
}

/**
 * Refuses a principal whose token is bound to a certificate, unless the request presented that one.
 * `principal.certificate` is set only for a certificate the gateway accepted on this request (client-certificate.ts).
 */
export function checkCertificateBinding(principal: Principal): Principal {
  const bound = principal.confirmation?.x5t;
  if (bound === undefined) return principal;
  const { kind, id } = principal.credential;
  const refuse = (message: string, reason: string) => new AuthenticationError(`Unauthorized: ${message}`, 'invalid_token', id, kind, {
    reason, subject: principal.subject, ...(principal.certificate ? { certificate: principal.certificate } : {}),
  });
  if (principal.certificate === undefined) {
    throw refuse(
      'this access token is bound to a client certificate (RFC 8705); send it over a TLS connection that presents that certificate',
      'certificate-bound token without a client certificate',
    );
  }
  // Thumbprints are not secret, but the comparison is constant-time all the same: nothing to learn from timing.
  if (!sameSecret(bound, principal.certificate)) {
    throw refuse(
      'this access token is bound to another client certificate than the one presented (RFC 8705); use the certificate it was issued to',
      'certificate-bound token with another certificate',
    );
  }
  return principal;
}
