import type { IncomingMessage } from 'node:http';
import type { X509Certificate } from 'node:crypto';
import type { WardenConfig } from '../config/index.js';
import { CERTIFICATE_SUBJECT_PREFIX, type Principal } from '../shared/principal.js';
import { GlobSet } from '../shared/glob.js';
import type { Authenticator, RequestContext } from './authenticator.js';
import { extractBearer } from './bearer.js';
import { presentedCertificate, provenPeer, subjectAltNames, subjectDn, type CertificateSources, type PresentedCertificate } from './client-certificate.js';
import { checkCertificateBinding } from './certificate-binding.js';
import { AuthenticationError } from './errors.js';

export type MtlsConfig = NonNullable<Exclude<WardenConfig['auth'], 'none'>['mtls']>;

/**
 * Turns a verified certificate into a principal: the configured name, prefixed `mtls:` so that it never names
 * a user (principal.ts), is the subject; the role map, matched against the name itself, gives roles.
 */
export class MtlsVerifier {
  private readonly roles: { names: GlobSet; roles: readonly string[] }[];

  constructor(private readonly config: Pick<MtlsConfig, 'principal' | 'roles'>) {
    this.roles = Object.entries(config.roles).map(([pattern, roles]) => ({ names: new GlobSet([pattern]), roles }));
  }

  principal(cert: X509Certificate, thumbprint: string): Principal {
    const subject = nameOf(cert, this.config.principal);
    if (subject === undefined) {
      throw new AuthenticationError(`Unauthorized: the client certificate has no ${this.config.principal} (auth.mtls.principal)`, 'invalid_token', thumbprint, 'mtls');
    }
    const roles = [...new Set(this.roles.filter((r) => r.names.matches(subject)).flatMap((r) => r.roles))];
    if (roles.length === 0) {
      // The subject is the caller's own text: shown bounded.
      throw new AuthenticationError(`Unauthorized: the client certificate '${subject.slice(0, 200)}' maps to no role; add it to auth.mtls.roles`, 'invalid_token', thumbprint, 'mtls');
    }
    return { subject: `${CERTIFICATE_SUBJECT_PREFIX}${subject}`, credential: { kind: 'mtls', id: thumbprint }, scopes: [], roles, certificateSubject: subjectDn(cert) };
  }
}

/**
 * Client certificates in front of the bearer chain. Without a bearer token, a verified certificate is the
 * credential; with one, the token says who and the certificate's thumbprint is kept beside it (audit). A
 * certificate that was presented and failed verification is refused either way: with `request`, the
 * handshake let it through so that this answer can be a 401 with a reason rather than a reset connection.
 * One exception (RFC 8705 §2.2): a self-signed certificate beside a token bound to exactly it.
 * Every bearer principal passes the certificate-binding check here, also when no certificate is configured,
 * so a bound token is never taken as a plain bearer token.
 */
export class CertificateAuthenticator implements Authenticator {
  readonly mode = 'mtls';

  constructor(
    private readonly sources: CertificateSources,
    private readonly verifier: MtlsVerifier | undefined,
    private readonly bearer: Authenticator | undefined,
  ) {}

  async authenticate(req: IncomingMessage, context: RequestContext): Promise<Principal> {
    const presented = presentedCertificate(req, this.sources);
    if (presented?.problem !== undefined) return this.selfSigned(req, context, presented);
    // With no bearer credential configured, a token sent anyway is not read: the certificate decides.
    if (presented && this.verifier && (!this.bearer || extractBearer(req) === undefined)) return this.verifier.principal(presented.cert, presented.thumbprint);
    if (!this.bearer) {
      throw new AuthenticationError('Unauthorized: this endpoint needs a client certificate issued by the configured CA (listen.tls.clientCa)');
    }
    const principal = await this.bearer.authenticate(req, context);
    return checkCertificateBinding(presented ? { ...principal, ...beside(presented) } : principal);
  }

  /**
   * A certificate no trusted CA issued: good only as the proof of possession of a token the authorization
   * server bound to it (it checked the certificate when it issued the token). Anything else is the refusal.
   */
  private async selfSigned(req: IncomingMessage, context: RequestContext, presented: PresentedCertificate & { problem: string }): Promise<Principal> {
    if (!this.bearer || !provenPeer(presented) || extractBearer(req) === undefined) throw refused(presented);
    const principal = await this.bearer.authenticate(req, context);
    if (principal.confirmation?.x5t === undefined) throw refused(presented);
    return checkCertificateBinding({ ...principal, ...beside(presented) });
  }
}

/** A certificate the gateway accepted beside a token: its thumbprint (audit, RFC 8705 binding) and subject (policies). */
function beside(presented: PresentedCertificate): Pick<Principal, 'certificate' | 'certificateSubject'> {
  return { certificate: presented.thumbprint, ...(presented.cert ? { certificateSubject: subjectDn(presented.cert) } : {}) };
}

function refused(presented: PresentedCertificate & { problem: string }): AuthenticationError {
  return new AuthenticationError(`Unauthorized: the client certificate was refused (${presented.problem}); present a current one issued by the configured CA`, 'invalid_token', presented.thumbprint, 'mtls');
}

/** The certificate's name of the configured kind; for SANs, the first one of that type. */
function nameOf(cert: X509Certificate, kind: MtlsConfig['principal']): string | undefined {
  if (kind === 'subject-cn') return /^CN=(.+)$/m.exec(cert.subject)?.[1];
  return subjectAltNames(cert, ({ 'san-uri': 'URI', 'san-dns': 'DNS', 'san-email': 'email' } as const)[kind])[0];
}
