import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions, type TlsOptions } from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import type { WardenConfig } from '../config/index.js';
import { parseBundle } from '../resource/client-certificate.js';

export type ListenTls = NonNullable<WardenConfig['listen']['tls']>;

/**
 * Reads listen.tls's PEM files into what `https.createServer` and `server.setSecureContext` take. Protocol
 * versions and ciphers are Node's defaults on purpose: TLS 1.2 minimum, TLS 1.3 preferred, and only AEAD
 * suites with forward secrecy first; they follow OpenSSL's updates better than a list frozen here would.
 * A missing or unreadable file is a start-up (or reload) error naming the setting, never a silent plain HTTP.
 */
export function readListenTls(tls: ListenTls): SecureContextOptions & TlsOptions {
  const cert = readPem(tls.cert, 'listen.tls.cert');
  const options = {
    // Intermediates go after the leaf in `cert`: Node's `ca` on a server is what client certificates are checked against.
    cert: tls.ca ? Buffer.concat([cert, Buffer.from('\n'), readPem(tls.ca, 'listen.tls.ca')]) : cert,
    key: readPem(tls.key, 'listen.tls.key'),
    ...(tls.clientCa ? {
      ca: readPem(tls.clientCa, 'listen.tls.clientCa'),
      // With a CRL, Node has OpenSSL check the whole chain (CRL_CHECK_ALL): a CA without its CRL here fails
      // closed (UNABLE_TO_GET_CRL), and so does an out-of-date CRL (CRL_HAS_EXPIRED) until SIGHUP reads a fresh one.
      ...(tls.clientCrl ? { crl: readPem(tls.clientCrl, 'listen.tls.clientCrl') } : {}),
      requestCert: true,
      // With `request`, a missing or bad certificate still completes the handshake; the authenticator decides (401).
      rejectUnauthorized: tls.clientCertificates === 'require',
    } : {}),
  };
  usable(secureContextOf(options), 'listen.tls: the files do not make a usable certificate', "cert, key, clientCa and clientCrl must be PEM, and key must be cert's key");
  return options;
}

/** The part a reload may change: the files. Whether a client certificate is asked for stays as started. */
export function secureContextOf(options: SecureContextOptions & TlsOptions): SecureContextOptions {
  const { requestCert: _request, rejectUnauthorized: _reject, ...context } = options;
  return context;
}

/** The certificates of a CA bundle file; one without any is an error, not a CA list that trusts nothing silently. */
export function readCaBundle(file: string, setting: string): X509Certificate[] {
  const cas = parseBundle(readPem(file, setting).toString('utf8'));
  if (cas.length === 0) throw new TlsFileError(`${setting}: ${file} holds no PEM certificate; point it at the CA certificate(s)`);
  return cas;
}

export function readPem(file: string, setting: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new TlsFileError(`${setting}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)}); point it at a readable PEM file`);
  }
}

/** A PEM file of the config could not be read or used: at start-up the gateway does not start, on SIGHUP the old files stay. */
export class TlsFileError extends Error {
  readonly code = 'tls_file_error';
  override readonly name = 'TlsFileError';
}

export type UpstreamTls = { ca?: Buffer; cert?: Buffer; key?: Buffer };

/**
 * What the undici Pool of an https upstream connects with: `ca` replaces the system's trust store (a pinned
 * private CA), `cert`/`key` are the gateway's own client certificate. Read once at start-up.
 */
export function readUpstreamTls(name: string, tls: { ca?: string; cert?: string; key?: string }): UpstreamTls {
  const at = `upstreams.${name}.tls`;
  const options = {
    ...(tls.ca ? { ca: readPem(tls.ca, `${at}.ca`) } : {}),
    ...(tls.cert ? { cert: readPem(tls.cert, `${at}.cert`) } : {}),
    ...(tls.key ? { key: readPem(tls.key, `${at}.key`) } : {}),
  };
  usable(options, `${at}: the files do not make a usable TLS client`, 'ca, cert and key must be PEM, and key must be cert\'s key');
  return options;
}

/** Builds the context once so that a broken file stops start-up, not the first call (OpenSSL's words say what, `where` says where). */
function usable(options: SecureContextOptions, where: string, fix: string): void {
  try {
    createSecureContext(options);
  } catch (err) {
    throw new TlsFileError(`${where} (${(err as Error).message}); ${fix}`);
  }
}
