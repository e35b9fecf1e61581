import { isIP } from 'node:net';
import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { OAuthMtls } from '../config/index.js';
import { presentedCertificate, provenPeer, subjectAltNames as sans, type CertificateSources, type PresentedCertificate } from '../resource/client-certificate.js';

/**
 * RFC 8705 at the embedded authorization server: oidc-provider's `features.mTLS` does the protocol
 * (tls_client_auth, self_signed_tls_client_auth, cnf.x5t#S256 in access tokens, refresh tokens of public
 * clients bound to the certificate); this file tells it which certificate a request came with, by the same
 * rules the resource side applies (client-certificate.ts): the TLS peer's, or a trusted proxy's header.
 */

/** The certificate of a request, read once however often oidc-provider asks. */
const seen = new WeakMap<IncomingMessage, PresentedCertificate | null>();

function presented(req: IncomingMessage, sources: CertificateSources): PresentedCertificate | undefined {
  let found = seen.get(req);
  if (found === undefined) {
    found = presentedCertificate(req, sources) ?? null;
    seen.set(req, found);
  }
  return found ?? undefined;
}

/**
 * The certificate the caller proved to hold: the TLS peer's, whether or not a trusted CA issued it (the
 * self-signed method and public clients' binding need exactly that, and the handshake is the proof), or a
 * header's, only when it passed every check (a proxy's header proves possession only as far as it is trusted).
 * A header sent beside a certificate of the connection, or without a declared proxy, gives none.
 */
export function certificateOf(req: IncomingMessage, sources: CertificateSources): X509Certificate | undefined {
  const found = presented(req, sources);
  if (!found) return undefined;
  if (found.source === 'tls') return provenPeer(found);
  return found.problem === undefined ? found.cert : undefined;
}

/** oidc-provider's own default list: the certificate methods are added to it, not put in its place. */
const DEFAULT_CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_jwt', 'client_secret_post', 'private_key_jwt', 'none'];

/** What the provider takes: `features.mTLS`, the token endpoint's methods, and whether certificate clients are bound. */
export interface MtlsParts {
  feature: ReturnType<typeof mtlsFeature>;
  clientAuthMethods: string[];
  bindCertificateClients: boolean;
  /** The request's certificate as PEM, for grants registered outside oidc-provider's own (delegated-grants.ts). */
  certificate(ctx: KoaContextWithOIDC): string | undefined;
}

export function mtlsParts(settings: OAuthMtls, sources: CertificateSources): MtlsParts {
  return {
    feature: mtlsFeature(settings, sources),
    clientAuthMethods: [...DEFAULT_CLIENT_AUTH_METHODS, ...settings.clientAuth],
    bindCertificateClients: settings.boundTokens,
    certificate: (ctx) => certificateOf(ctx.req, sources)?.toString(),
  };
}

/** oidc-provider's `features.mTLS` for these settings and certificate sources. */
function mtlsFeature(settings: OAuthMtls, sources: CertificateSources) {
  return {
    enabled: true,
    certificateBoundAccessTokens: settings.boundTokens,
    tlsClientAuth: settings.clientAuth.includes('tls_client_auth'),
    selfSignedTlsClientAuth: settings.clientAuth.includes('self_signed_tls_client_auth'),
    getCertificate: (ctx: KoaContextWithOIDC) => certificateOf(ctx.req, sources)?.toString(),
    // tls_client_auth only: the chain leads to listen.tls.clientCa (the handshake) or auth.mtls.ca (the header).
    certificateAuthorized: (ctx: KoaContextWithOIDC) => {
      const found = presented(ctx.req, sources);
      return found !== undefined && found.problem === undefined;
    },
    certificateSubjectMatches: (ctx: KoaContextWithOIDC, property: string, expected: string) => {
      const found = presented(ctx.req, sources);
      return found?.cert !== undefined && found.problem === undefined && subjectMatches(found.cert, property, expected);
    },
  } as never;
}

/** RFC 8705 §2.1.2: the one registered `tls_client_auth_*` value against the certificate. */
export function subjectMatches(cert: X509Certificate, property: string, expected: string): boolean {
  switch (property) {
    case 'tls_client_auth_subject_dn': return sameDn(cert.subject, expected);
    case 'tls_client_auth_san_dns': return sans(cert, 'DNS').some((v) => v.toLowerCase() === expected.toLowerCase());
    case 'tls_client_auth_san_uri': return sans(cert, 'URI').includes(expected);
    case 'tls_client_auth_san_email': return sans(cert, 'email').includes(expected);
    case 'tls_client_auth_san_ip': return sans(cert, 'IP Address').some((v) => sameIp(v, expected));
    default: return false;
  }
}

/**
 * A registered DN is an RFC 4514 string (most specific first: "CN=bot,O=Example,C=DE"); Node prints the
 * subject one RDN per line in certificate order, escaped as RFC 2253 does. Both are split into RDNs,
 * unescaped and compared in order: attribute names without case, values exactly.
 */
function sameDn(subject: string, expected: string): boolean {
  const actual = subject.split('\n').filter(Boolean).reverse().map(rdn);
  const wanted = splitUnescaped(expected, ',').map((part) => rdn(part.trim()));
  return actual.length === wanted.length && actual.every((a, i) => a !== undefined && a === wanted[i]);
}

function rdn(text: string): string | undefined {
  const eq = text.indexOf('=');
  if (eq <= 0) return undefined;
  return `${text.slice(0, eq).trim().toUpperCase()}=${unescapeDn(text.slice(eq + 1))}`;
}

function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) {
      current += c + text[++i];
    } else if (c === separator) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts;
}

/** RFC 4514 §2.4 escapes: `\,` and friends, and `\hh` bytes of UTF-8. */
function unescapeDn(value: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\' && /^[0-9a-fA-F]{2}$/.test(value.slice(i + 1, i + 3))) {
      bytes.push(parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c === '\\' && i + 1 < value.length) {
      bytes.push(...Buffer.from(value[++i]!));
    } else bytes.push(...Buffer.from(c));
  }
  return Buffer.from(bytes).toString('utf8');
}

function sameIp(actual: string, expected: string): boolean {
  const canonical = (ip: string) => (isIP(ip) === 6 ? new URL(`http://[${ip}]/`).hostname : isIP(ip) === 4 ? ip : undefined);
  const a = canonical(actual);
  return a !== undefined && a === canonical(expected);
}
