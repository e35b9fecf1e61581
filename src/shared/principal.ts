/** Who is calling, as every module after `authenticate` sees it (DESIGN.md "Identity"). */
export interface Principal {
  subject: string;
  tenant?: string;
  clientId?: string;
  /** Who vouched for the subject: the embedded authorization server's issuer, or a company IdP's. */
  issuer?: string;
  credential: { kind: 'none' | 'api_key' | 'oauth' | 'jwt' | 'mtls'; id: string };
  scopes: string[];
  /** The subject's roles: they grant scopes (see `scopesCutToRoles`), and policies (Cedar) see them. */
  roles: string[];
  /**
   * True for gateway-issued tokens: their scopes were cut to the roles when the token was issued, so the roles
   * grant nothing more at the scope step. Cedar still sees them, e.g. for "an agent gets at most its user's roles".
   */
  scopesCutToRoles?: true;
  actor?: Principal;
  /** Sender-constrained token: what the caller must prove to hold (RFC 8705 certificate thumbprint, RFC 9449 key thumbprint). */
  confirmation?: { x5t?: string; jkt?: string };
  /** The client certificate's SHA-256 thumbprint when one came beside a bearer token (the token says who). */
  certificate?: string;
  /** The subject DN (RFC 4514) of the certificate this request presented and the gateway accepted, for policies. */
  certificateSubject?: string;
}

/**
 * Subjects name people and services across credential kinds: an API key of `alice` and alice's OAuth token
 * are one user (her sessions, her rate limit, her identity at the upstream). A client certificate is a
 * machine whose name its CA chose, so its subject carries this prefix: a certificate with `CN=alice` is never
 * the user alice. Usernames cannot contain `:`, and API key subjects may not start with it.
 */
export const CERTIFICATE_SUBJECT_PREFIX = 'mtls:';

/** The principal of the local scenario's `auth: none`: a local user, with no credential to check. */
export const ANONYMOUS: Principal = Object.freeze({
  subject: 'anonymous',
  credential: Object.freeze({ kind: 'none' as const, id: '-' }),
  scopes: [],
  roles: [],
});

/**
 * The kind of credential a request presented: a verifier's kind, `unknown` for a bearer token no verifier
 * recognised, or `admin_session` for an administrator signed in to the admin console (admin records only).
 */
export type PresentedCredentialKind = Principal['credential']['kind'] | 'unknown' | 'admin_session';

/** Who a record is about: a principal, or what is known of a caller whose credential was refused. */
export type AuditedPrincipal = Omit<Principal, 'credential'> & { credential: { kind: PresentedCredentialKind; id: string } };
