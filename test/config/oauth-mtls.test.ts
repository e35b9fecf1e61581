import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText, ConfigError, oauthMtlsOf, type WardenConfig } from '../../src/config/index.js';

/** auth.oauth.mtls: RFC 8705 at the embedded authorization server, derived from where certificates arrive. */

const BASE = [
  'authorization: { scopes: { "notes:read": { tools: [search_notes] } }, roles: { ci: ["notes:read"] } }',
  'upstreams: { notes: { url: "http://127.0.0.1:3000/mcp" } }',
];
const TLS = 'listen: { host: 127.0.0.1, tls: { cert: s.pem, key: s.key, clientCa: ca.pem } }';
const PLAIN = 'listen: { host: 127.0.0.1 }';
const TLS_REQUIRE = 'listen: { host: 127.0.0.1, tls: { cert: s.pem, key: s.key, clientCa: ca.pem, clientCertificates: require } }';

function parse(lines: string[]): WardenConfig | { path: string; message: string }[] {
  try {
    return parseConfigText(lines.join('\n')).config;
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues;
  }
}

const config = (lines: string[]): WardenConfig => {
  const parsed = parse(lines);
  assert.ok(!Array.isArray(parsed), JSON.stringify(parsed));
  return parsed;
};
const issues = (lines: string[]) => {
  const parsed = parse(lines);
  assert.ok(Array.isArray(parsed), 'expected the config to be refused');
  return parsed;
};

test('on by default wherever the gateway receives client certificates, with both methods when a self-signed one can complete the handshake', () => {
  assert.deepEqual(oauthMtlsOf(config([...BASE, TLS, 'auth: { oauth: {} }'])), { boundTokens: true, clientAuth: ['tls_client_auth', 'self_signed_tls_client_auth'] });
  assert.deepEqual(oauthMtlsOf(config([...BASE, TLS_REQUIRE, 'auth: { oauth: {} }'])), { boundTokens: true, clientAuth: ['tls_client_auth'] });
  assert.deepEqual(oauthMtlsOf(config([...BASE, PLAIN, 'http: { trustProxy: 1 }', 'auth: { oauth: {}, mtls: { principal: subject-cn, roles: {}, header: X-Client-Cert, ca: ca.pem } }'])),
    { boundTokens: true, clientAuth: ['tls_client_auth'] }, 'behind a proxy: its header, never self-signed');
});

test('off without a certificate source, without OAuth, and with auth.oauth.mtls: false', () => {
  assert.equal(oauthMtlsOf(config([...BASE, PLAIN, 'auth: { oauth: {} }'])), undefined);
  assert.equal(oauthMtlsOf(config([...BASE, TLS, 'auth: { apiKeys: {} }'])), undefined);
  assert.equal(oauthMtlsOf(config([...BASE, TLS, 'auth: { oauth: { mtls: false } }'])), undefined);
});

test('narrowing: boundTokens false, one method', () => {
  assert.deepEqual(oauthMtlsOf(config([...BASE, TLS, 'auth: { oauth: { mtls: { boundTokens: false, clientAuth: [tls_client_auth] } } }'])),
    { boundTokens: false, clientAuth: ['tls_client_auth'] });
});

test('misuse: auth.oauth.mtls where no certificate can arrive is refused, naming the fix', () => {
  const found = issues([...BASE, PLAIN, 'auth: { oauth: { mtls: { boundTokens: true } } }']);
  assert.ok(found.some((i) => i.path === 'auth.oauth.mtls' && /set listen\.tls\.clientCa/.test(i.message)), JSON.stringify(found));
});

test('misuse: self_signed_tls_client_auth where a self-signed certificate cannot arrive (require; a proxy header) is refused', () => {
  const withRequire = issues([...BASE, TLS_REQUIRE, 'auth: { oauth: { mtls: { clientAuth: [tls_client_auth, self_signed_tls_client_auth] } } }']);
  assert.ok(withRequire.some((i) => i.path === 'auth.oauth.mtls.clientAuth.1' && /clientCertificates: require/.test(i.message)), JSON.stringify(withRequire));
  const behindProxy = issues([...BASE, PLAIN, 'http: { trustProxy: 1 }',
    'auth: { oauth: { mtls: { clientAuth: [self_signed_tls_client_auth] } }, mtls: { principal: subject-cn, roles: {}, header: X-Client-Cert, ca: ca.pem } }']);
  assert.ok(behindProxy.some((i) => /does not prove that the caller holds its key/.test(i.message)), JSON.stringify(behindProxy));
  assert.ok(issues([...BASE, TLS, 'auth: { oauth: { mtls: { clientAuth: [sometimes] } } }']).length > 0, 'an unknown method');
});
