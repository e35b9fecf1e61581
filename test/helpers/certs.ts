import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { thumbprintOf } from '../../src/resource/client-certificate.js';

/** A certificate made by the `openssl` CLI: its files, and the PEM text. */
export interface IssuedCert {
  cert: string;
  key: string;
  certPem: string;
  keyPem: string;
}

export interface TestCa extends IssuedCert {
  dir: string;
  /** Issues a certificate signed by this CA; `expired` makes one whose validity ended in 2021. */
  issue(name: string, options?: { cn?: string; san?: string; expired?: boolean; server?: boolean }): IssuedCert;
  /** Marks a certificate this CA issued as revoked; the next `crl()` lists it. */
  revoke(cert: IssuedCert): void;
  /** Writes this CA's CRL (PEM) to a new file and returns its path; `expired` makes one whose nextUpdate is past. */
  crl(options?: { expired?: boolean }): string;
}

const openssl = (dir: string, args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

/**
 * A throw-away certificate authority in a temp directory, through `openssl ca` so that validity dates can be
 * set in the past (OpenSSL 3.0's `x509 -req` cannot). Keys are P-256: fast to make, as real as RSA for TLS.
 */
export function makeCa(name = 'Test CA'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'warden-ca-'));
  let crls = 0;
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  writeFileSync(join(dir, 'ca.cnf'), [
    '[ca]', 'default_ca = CA_default',
    '[CA_default]', `dir = ${dir}`, `database = ${dir}/index.txt`, `new_certs_dir = ${dir}`, `serial = ${dir}/serial`,
    'default_md = sha256', 'policy = policy_any', 'unique_subject = no', 'default_days = 30',
    '[policy_any]', 'commonName = supplied',
  ].join('\n'));
  const key = join(dir, 'ca.key');
  const cert = join(dir, 'ca.pem');
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', '30', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const files = (c: string, k: string): IssuedCert => ({ cert: c, key: k, certPem: readFileSync(c, 'utf8'), keyPem: readFileSync(k, 'utf8') });
  return {
    dir,
    ...files(cert, key),
    issue(base, options = {}) {
      const leafKey = join(dir, `${base}.key`);
      const csr = join(dir, `${base}.csr`);
      const leaf = join(dir, `${base}.pem`);
      const ext = join(dir, `${base}.ext`);
      const san = options.san ?? (options.server ? 'DNS:localhost,IP:127.0.0.1' : undefined);
      writeFileSync(ext, ['[v3]', 'basicConstraints=CA:FALSE', `extendedKeyUsage=${options.server ? 'serverAuth' : 'clientAuth'}`,
        ...(san ? [`subjectAltName=${san}`] : [])].join('\n'));
      openssl(dir, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', leafKey, '-out', csr,
        '-subj', `/CN=${options.cn ?? base}`]);
      openssl(dir, ['ca', '-batch', '-config', join(dir, 'ca.cnf'), '-cert', cert, '-keyfile', key, '-in', csr, '-out', leaf, '-notext',
        '-extfile', ext, '-extensions', 'v3',
        ...(options.expired ? ['-startdate', '20200101000000Z', '-enddate', '20210101000000Z'] : [])]);
      return files(leaf, leafKey);
    },
    revoke(issued) {
      openssl(dir, ['ca', '-config', join(dir, 'ca.cnf'), '-cert', cert, '-keyfile', key, '-revoke', issued.cert]);
    },
    crl(options = {}) {
      const out = join(dir, `crl-${++crls}.pem`);
      openssl(dir, ['ca', '-config', join(dir, 'ca.cnf'), '-cert', cert, '-keyfile', key, '-gencrl', '-out', out,
        ...(options.expired ? ['-crl_lastupdate', '20200101000000Z', '-crl_nextupdate', '20210101000000Z'] : ['-crldays', '1'])]);
      return out;
    },
  };
}

/** A self-signed client certificate (no CA issued it), as RFC 8705's self_signed_tls_client_auth clients use. */
export function selfSigned(cn: string): IssuedCert {
  const dir = mkdtempSync(join(tmpdir(), 'warden-self-'));
  const key = join(dir, 'self.key');
  const cert = join(dir, 'self.pem');
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', '30', '-subj', `/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'extendedKeyUsage=clientAuth']);
  return { cert, key, certPem: readFileSync(cert, 'utf8'), keyPem: readFileSync(key, 'utf8') };
}

/** The certificate's RFC 8705 `x5t#S256` thumbprint, as the gateway computes it. */
export const thumbprint = (c: IssuedCert): string => thumbprintOf(new X509Certificate(c.certPem));
