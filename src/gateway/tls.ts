import { readFileSync } from 'node:fs';
import type { SecureContextOptions } from 'node:tls';
import type { WardenConfig } from '../config/index.js';

export type ListenTls = NonNullable<WardenConfig['listen']['tls']>;

/**
 * Reads listen.tls's PEM files into what `https.createServer` and `server.setSecureContext` take. Protocol
 * versions and ciphers are Node's defaults on purpose: TLS 1.2 minimum, TLS 1.3 preferred, and only AEAD
 * suites with forward secrecy first; they follow OpenSSL's updates better than a list frozen here would.
 * A missing or unreadable file is a start-up (or reload) error naming the setting, never a silent plain HTTP.
 */
export function readListenTls(tls: ListenTls): SecureContextOptions {
  return {
    cert: readPem(tls.cert, 'listen.tls.cert'),
    key: readPem(tls.key, 'listen.tls.key'),
    ...(tls.ca ? { ca: readPem(tls.ca, 'listen.tls.ca') } : {}),
  };
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
