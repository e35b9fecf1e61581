import { CERTIFICATE_CLIENT_AUTH, type WardenConfig } from './schema.js';

export type CertificateClientAuth = (typeof CERTIFICATE_CLIENT_AUTH)[number];

/** RFC 8705 at the embedded authorization server, as the config resolves it. */
export interface OAuthMtls {
  boundTokens: boolean;
  clientAuth: CertificateClientAuth[];
}

/**
 * Where client certificates reach the gateway, and so which RFC 8705 methods can work at all:
 * `tls` when the gateway asks for them in the handshake, `selfSigned` when a certificate no CA issued can
 * complete that handshake (`request`; `require` ends it), `header` behind a TLS-terminating proxy.
 */
function certificateSources(config: WardenConfig): { tls: boolean; selfSigned: boolean; header: boolean } {
  const tls = config.listen.tls?.clientCa !== undefined;
  return {
    tls,
    selfSigned: tls && config.listen.tls?.clientCertificates !== 'require',
    header: config.auth !== 'none' && config.auth.mtls?.header !== undefined,
  };
}

/**
 * Certificate-bound tokens and certificate client authentication are on wherever the gateway receives
 * client certificates, unless `auth.oauth.mtls: false`; a method that cannot work with the configured
 * sources is not offered by default (checkOAuthMtls refuses it when named). Undefined when off.
 */
export function oauthMtlsOf(config: WardenConfig): OAuthMtls | undefined {
  if (config.auth === 'none' || !config.auth.oauth || config.auth.oauth.mtls === false) return undefined;
  const sources = certificateSources(config);
  if (!sources.tls && !sources.header) return undefined;
  const setting = config.auth.oauth.mtls;
  const usable: CertificateClientAuth[] = sources.selfSigned ? ['tls_client_auth', 'self_signed_tls_client_auth'] : ['tls_client_auth'];
  return { boundTokens: setting?.boundTokens ?? true, clientAuth: setting?.clientAuth ?? usable };
}

/** auth.oauth.mtls named where no certificate can arrive, or a method the certificate sources cannot serve. */
export function checkOAuthMtls(config: WardenConfig): { path: (string | number)[]; message: string }[] {
  if (config.auth === 'none' || !config.auth.oauth?.mtls) return [];
  const setting = config.auth.oauth.mtls;
  const sources = certificateSources(config);
  const path = ['auth', 'oauth', 'mtls'];
  if (!sources.tls && !sources.header) {
    return [{ path, message: 'certificate-bound tokens need client certificates: set listen.tls.clientCa (the CA that issues them), or auth.mtls.header and auth.mtls.ca behind a TLS-terminating proxy; or remove auth.oauth.mtls' }];
  }
  const n = setting.clientAuth?.indexOf('self_signed_tls_client_auth') ?? -1;
  if (n >= 0 && !sources.selfSigned) {
    return [{
      path: [...path, 'clientAuth', n],
      message: sources.tls
        ? 'a self-signed certificate cannot complete the handshake with listen.tls.clientCertificates: require; use request, or remove self_signed_tls_client_auth'
        : 'self_signed_tls_client_auth needs the TLS handshake at the gateway (listen.tls.clientCa with clientCertificates: request): a certificate in a proxy header does not prove that the caller holds its key',
    }];
  }
  return [];
}
