import { createHash, X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

/**
 * A client certificate as the gateway saw it: a verified one (chains to a trusted CA, within its validity),
 * or a refused one with why. `thumbprint` is the base64url SHA-256 of the DER certificate, RFC 8705's
 * x5t#S256, so that a later certificate-bound token can name it; `-` when the certificate could not be read.
 */
export type PresentedCertificate = (
  | { cert: X509Certificate; thumbprint: string; problem?: undefined }
  | { cert?: X509Certificate; thumbprint: string; problem: string }
) & {
  /**
   * `tls`: the peer of this connection, so the handshake proved that the caller holds the key, whatever the
   * chain; `header`: a proxy's word, worth only what the CA check makes it.
   */
  source: 'tls' | 'header';
};

export interface CertificateSources {
  /** Behind a TLS-terminating proxy: the header carrying the URL-encoded PEM, and the CAs it must chain to. */
  header?: { name: string; cas: readonly X509Certificate[] };
  /** http.trustProxy: a header is believed only when a proxy is declared in front. */
  trustProxy: number;
}

/**
 * The subject as an RFC 4514 string, most specific first ("CN=bot,O=Example,C=DE"), as policies and
 * `tls_client_auth_subject_dn` write it. Node prints one RDN per line in certificate order, already escaped.
 */
export function subjectDn(cert: X509Certificate): string {
  return cert.subject.split('\n').filter(Boolean).reverse().join(',');
}

export function thumbprintOf(cert: X509Certificate): string {
  return createHash('sha256').update(cert.raw).digest('base64url');
}

/**
 * The certificate of a request: the TLS peer's (Node verified it against listen.tls.clientCa during the
 * handshake; `authorized` says how that went), else the proxy's header. A header that arrives over a
 * connection that itself presented a certificate, or without a declared proxy, is an attempt to claim
 * someone else's certificate and is refused, not ignored.
 */
export function presentedCertificate(req: IncomingMessage, sources: CertificateSources): PresentedCertificate | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  const peer = socket.encrypted && typeof socket.getPeerX509Certificate === 'function' ? socket.getPeerX509Certificate() : undefined;
  const header = sources.header ? req.headers[sources.header.name.toLowerCase()] : undefined;
  if (peer) {
    const source = 'tls' as const;
    if (header !== undefined) return { cert: peer, thumbprint: thumbprintOf(peer), problem: `${sources.header!.name} sent over a connection with its own certificate`, source };
    const thumbprint = thumbprintOf(peer);
    return socket.authorized ? { cert: peer, thumbprint, source } : { cert: peer, thumbprint, problem: String(socket.authorizationError ?? 'not verified'), source };
  }
  if (header === undefined || !sources.header) return undefined;
  const source = 'header' as const;
  const cert = parseHeader(header);
  if (!cert) return { thumbprint: '-', problem: `${sources.header.name} does not hold a URL-encoded PEM certificate`, source };
  const thumbprint = thumbprintOf(cert);
  if (sources.trustProxy === 0) return { cert, thumbprint, problem: `${sources.header.name} is trusted only from a declared proxy (http.trustProxy > 0)`, source };
  const problem = verifyAgainst(cert, sources.header.cas);
  return problem ? { cert, thumbprint, problem, source } : { cert, thumbprint, source };
}

function parseHeader(value: string | string[]): X509Certificate | undefined {
  if (Array.isArray(value) || value.length > 16_384) return undefined;
  try {
    return new X509Certificate(decodeURIComponent(value));
  } catch {
    return undefined;
  }
}

/** The proxy checked the chain already; this checks again against our own CA list, so a proxy bug or a forged header does not become a principal. */
function verifyAgainst(cert: X509Certificate, cas: readonly X509Certificate[]): string | undefined {
  const now = Date.now();
  if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) return 'CERT_HAS_EXPIRED or not yet valid';
  if (cert.ca) return 'a CA certificate is not a client certificate';
  const issuer = cas.find((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
  return issuer ? undefined : 'not issued by auth.mtls.ca';
}

/** OpenSSL's words for a chain that does not lead to a trusted CA (as opposed to a bad date or a bad signature). */
const UNTRUSTED_CHAIN = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);

/**
 * The TLS peer's certificate when it is within its dates and either verified or refused only because no
 * trusted CA issued it (a self-signed one). The handshake proved that the caller holds its key, so it can
 * stand for what the authorization server bound to it (RFC 8705 §2.2), never as a principal by itself. A
 * header's certificate proves nothing of the kind: certificates are public, and anyone could send one.
 */
export function provenPeer(presented: PresentedCertificate): X509Certificate | undefined {
  if (presented.source !== 'tls' || !presented.cert) return undefined;
  if (presented.problem !== undefined && !UNTRUSTED_CHAIN.has(presented.problem)) return undefined;
  const now = Date.now();
  const { cert } = presented;
  return now >= Date.parse(cert.validFrom) && now <= Date.parse(cert.validTo) ? cert : undefined;
}

/** Every certificate in a PEM bundle. */
export function parseBundle(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((block) => new X509Certificate(block));
}

/** The SANs of one type. Node lists them as `DNS:a, URI:b`, and quotes (JSON) a value that holds a comma. */
export function subjectAltNames(cert: X509Certificate, type: 'DNS' | 'URI' | 'email' | 'IP Address'): string[] {
  const found: string[] = [];
  for (const m of (cert.subjectAltName ?? '').matchAll(/(?:^|, )([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    if (m[1] !== type) continue;
    try {
      found.push(m[2]!.startsWith('"') ? JSON.parse(m[2]!) as string : m[2]!);
    } catch {
      // A value Node quoted in a way JSON does not read is not matched.
    }
  }
  return found;
}
