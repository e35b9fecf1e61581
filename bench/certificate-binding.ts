/**
 * What RFC 8705 costs the gateway per request: reading the client certificate of a real mutual-TLS
 * connection (Node's getPeerX509Certificate + SHA-256 of the DER, what client-certificate.ts does on every
 * request) and the binding check (certificate-binding.ts: two SHA-256 digests and a constant-time compare).
 * Run: node --import tsx bench/certificate-binding.ts
 */
import { createServer as createHttpsServer } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { makeCa } from '../test/helpers/certs.js';
import { presentedCertificate } from '../src/resource/client-certificate.js';
import { checkCertificateBinding } from '../src/resource/certificate-binding.js';
import type { Principal } from '../src/shared/principal.js';

const N = 20_000;

function time(label: string, work: () => void): void {
  for (let i = 0; i < 2_000; i++) work();
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) work();
  const us = Number(process.hrtime.bigint() - start) / 1_000 / N;
  process.stdout.write(`${label.padEnd(64)} ${us.toFixed(2)} µs\n`);
}

const serverCa = makeCa('Server CA');
const clientCa = makeCa('Client CA');
const server = serverCa.issue('server', { server: true });
const client = clientCa.issue('bot', { cn: 'bot' });

const captured = await new Promise<IncomingMessage>((resolve) => {
  const https = createHttpsServer({ cert: server.certPem, key: server.keyPem, ca: clientCa.certPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    resolve(req);
    res.end('ok');
  });
  https.listen(0, '127.0.0.1', () => {
    const { port } = https.address() as { port: number };
    request({ host: '127.0.0.1', port, ca: serverCa.certPem, cert: client.certPem, key: client.keyPem, agent: false }, (res) => {
      res.resume();
      res.on('end', () => https.close());
    }).end();
  });
});

const sources = { trustProxy: 0 };
const presented = presentedCertificate(captured, sources)!;
if (presented.problem !== undefined) throw new Error(presented.problem);
const principal: Principal = { subject: 'alice', credential: { kind: 'oauth', id: 'j' }, scopes: [], roles: [], confirmation: { x5t: presented.thumbprint }, certificate: presented.thumbprint };

time('presentedCertificate on a live mTLS socket (peer cert + SHA-256)', () => presentedCertificate(captured, sources));
time('checkCertificateBinding (bound token, matching certificate)', () => checkCertificateBinding(principal));
time('checkCertificateBinding (plain bearer token)', () => checkCertificateBinding({ ...principal, confirmation: undefined }));
captured.socket.destroy();
