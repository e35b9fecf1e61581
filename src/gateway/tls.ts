import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions, type TlsOptions } from 'node:tls';
import type { WardenConfig } from '../config/index.js';

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
      requestCert: true,
      // With `request`, a missing or bad certificate still completes the handshake; the authenticator decides (401).
      rejectUnauthorized: tls.clientCertificates === 'require',
    } : {}),
  };
  try {
    createSecureContext(secureContextOf(options));
  } catch (err) {
    // OpenSSL's words (e.g. "key values mismatch") say what; the setting says where.
    throw new TlsFileError(`listen.tls: the files do not make a usable certificate (${(err as Error).message}); cert, key and clientCa must be PEM, and key must be cert's key`);
  }
  return options;
}

/** The part a reload may change: the files. Whether a client certificate is asked for stays as started. */
export function secureContextOf(options: SecureContextOptions & TlsOptions): SecureContextOptions {
  const { requestCert: _request, rejectUnauthorized: _reject, ...context } = options;
  return context;
}

export function readPem(file: string, setting: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new TlsFileError(`${setting}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)}); point it at a readable PEM file`);
  }
}

/** A PEM file of the config could not be read: at start-up the gateway does not start, on SIGHUP the old files stay. */
export class TlsFileError extends Error {
  readonly code = 'tls_file_unreadable';
  override readonly name = 'TlsFileError';
}

/**
 * What the undici Pool of an https upstream connects with: `ca` replaces the system's trust store (a pinned
 * private CA), `cert`/`key` are the gateway's own client certificate. Read once at start-up.
 */
export function readUpstreamTls(name: string, tls: { ca?: string; cert?: string; key?: string }): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  const at = `upstreams.${name}.tls`;
  return {
    ...(tls.ca ? { ca: readPem(tls.ca, `${at}.ca`) } : {}),
    ...(tls.cert ? { cert: readPem(tls.cert, `${at}.cert`) } : {}),
    ...(tls.key ? { key: readPem(tls.key, `${at}.key`) } : {}),
  };
}
