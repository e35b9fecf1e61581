import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../helpers/upstreams.js';
import { whoamiStdioCommand } from '../helpers/identity-upstream.js';
import { connectClient, INITIALIZE, rawRequest } from '../helpers/client.js';
import { createKey } from '../helpers/keys.js';
import { PASSWORD, addUsers } from '../helpers/oauth.js';
import { obtainTokens, refresh, remember } from '../helpers/oauth-flow.js';
import { attackerKey, claimsLike, forgeWithRealKey, hmacJwt, publicKeyAsSecrets, readSigningKey, signWith, unsecuredJwt, type RealKey } from '../helpers/jwt-forgery.js';
import { IDENTITY_META_KEY } from '../../src/credentials/identity-tokens.js';

/**
 * The classic attacks on a bearer-protected MCP endpoint, each by name, through one gateway with the embedded
 * authorization server and API keys in front of an HTTP upstream (web, which records what reaches it) and a
 * stdio child (kids). Every attack asserts the refusal, the audit record (or its deliberate absence for
 * refusals at the HTTP edge), that the upstream saw nothing, and that a legitimate request right after works.
 */

const AUTHORIZATION = {
  scopes: {
    'echo:use': { upstreams: ['web'], tools: ['echo'] },
    'who:use': { upstreams: ['kids'], tools: ['whoami'] },
  },
  roles: { reader: ['echo:use', 'who:use'] },
};

let gw: TestGateway;
let web: RunningHttpUpstream;
let dbPath: string;
let key: RealKey;
let webUrl: string;
let kidsUrl: string;
/** A real access token for alice at web (from sign-in), and one at kids. */
let webToken: string;
let kidsToken: string;
/** An API key valid at both upstreams: with it, only the path stands between a trick and the other upstream. */
let apiKey: { id: string; key: string };

before(async () => {
  dbPath = join(mkdtempSync(join(tmpdir(), 'warden-attacks-')), 'warden.db');
  await addUsers(dbPath, [['alice', ['reader']]]);
  apiKey = await createKey(dbPath, { subject: 'carol', scopes: ['echo:use', 'who:use'] });
  remember(apiKey.key);
  web = await startHttpUpstream({ stateful: false, json: true });
  gw = await startGateway({
    auth: {
      // Reuse of a rotated refresh token is a theft at once (no grace), so the replay below needs no waiting.
      oauth: { refreshReuseInterval: 0, registration: { perIp: { requestsPerSecond: 100, burst: 1_000 } }, login: { perIp: { requestsPerSecond: 100, burst: 1_000 } } },
      apiKeys: {},
    },
    store: { sqlite: dbPath },
    authorization: AUTHORIZATION,
    upstreams: { web: { url: web.url }, kids: { command: whoamiStdioCommand(), env: ['PATH'] } },
    // Dozens of refused credentials from one address: the failed-authentication budget would 429 them.
    rateLimit: { perIp: false, failedAuthPerIp: false },
  }, [PASSWORD]);
  webUrl = `${gw.url}/mcp/web`;
  kidsUrl = `${gw.url}/mcp/kids`;
  key = await readSigningKey(dbPath);
  webToken = (await obtainTokens(gw.url, { username: 'alice', resource: webUrl, scope: 'echo:use' })).access_token;
  kidsToken = (await obtainTokens(gw.url, { username: 'alice', resource: kidsUrl, scope: 'who:use' })).access_token;
});
after(async () => {
  await gw?.close();
  await web?.close();
});

interface Sent {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: any;
  /** The x-request-id sent, under which the gateway records the request. */
  requestId: string;
  /** The clientInfo name in the body: how the upstream's log is searched for this request. */
  marker: string;
}

/** A raw initialize at `path` (sent as is: fetch would normalise it), with `headers`; Host is the gateway's unless given. */
async function send(path: string, headers: Record<string, string>): Promise<Sent> {
  const requestId = `attack-${randomUUID()}`;
  const marker = `marker-${randomUUID()}`;
  const body = JSON.stringify({ ...INITIALIZE, params: { ...INITIALIZE.params, clientInfo: { name: marker, version: '1' } } });
  const res = await rawRequest(gw.url, path, {
    method: 'POST',
    headers: { host: new URL(gw.url).host, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'x-request-id': requestId, ...headers },
    body,
  });
  return { ...res, requestId, marker };
}

const reachedWeb = (marker: string) => web.seen.some((r) => JSON.stringify(r.body ?? '').includes(marker));
const recordsOf = (requestId: string) => gw.audit.records.filter((r) => r.requestId === requestId);

/** The control: a legitimate request at web gets through and reaches the upstream (also: the gateway still serves). */
async function assertServes(token: string, what: string): Promise<void> {
  const ok = await send('/mcp/web', { authorization: `Bearer ${token}` });
  assert.equal(ok.status, 200, `${what}: ${JSON.stringify(ok.json)}`);
  assert.ok(reachedWeb(ok.marker), `${what}: the upstream received it`);
}

/** A refusal in authentication: the status, the challenge, one deny record naming the credential kind, nothing upstream. */
function assertRefusedAfterAuthentication(res: Sent, what: string, expect: { status: number; kind: string; message?: RegExp }): void {
  assert.equal(res.status, expect.status, `${what}: ${JSON.stringify(res.json)}`);
  assert.equal(res.json?.jsonrpc, '2.0', `${what}: a JSON-RPC error body`);
  if (expect.message) assert.match(String(res.json?.error?.message), expect.message, what);
  if (expect.status === 401) assert.match(String(res.headers['www-authenticate']), /^Bearer .*error="invalid_token"/, what);
  const records = recordsOf(res.requestId);
  assert.equal(records.length, 1, `${what}: one audit record, got ${JSON.stringify(records)}`);
  assert.equal(records[0]!.event, 'authentication', what);
  assert.equal(records[0]!.decision, 'deny', what);
  assert.equal(records[0]!.credential.kind, expect.kind, what);
  assert.match(records[0]!.reason, /^authentication failed/, what);
  assert.equal(reachedWeb(res.marker), false, `${what}: the upstream saw nothing`);
}

const now = () => Math.floor(Date.now() / 1000);

interface TokenAttack {
  name: string;
  /** The attack's token, and a token made the same way but legitimately (the control, which must be accepted). */
  make(): Promise<{ attack: string; control: string }>;
  message: RegExp;
}

const TOKEN_ATTACKS: TokenAttack[] = [
  {
    name: 'alg none (an unsecured JWT with valid claims)',
    make: async () => ({ attack: unsecuredJwt(claimsLike(webToken), { kid: key.kid }), control: await forgeWithRealKey(key, claimsLike(webToken)) }),
    message: /algorithm|not valid/,
  },
  {
    name: 'wrong aud (a real token for kids, presented at web)',
    make: async () => ({ attack: kidsToken, control: webToken }),
    message: /another resource/,
  },
  {
    name: 'wrong iss (signed with the real key)',
    make: async () => ({ attack: await forgeWithRealKey(key, claimsLike(webToken, { iss: 'https://evil.example' })), control: await forgeWithRealKey(key, claimsLike(webToken)) }),
    message: /another authorization server/,
  },
  {
    name: 'expired (signed with the real key, exp a minute ago)',
    make: async () => {
      const t = now();
      return {
        attack: await forgeWithRealKey(key, claimsLike(webToken, { iat: t - 700, exp: t - 60 })),
        control: await forgeWithRealKey(key, claimsLike(webToken, { iat: t - 30, exp: t + 300 })),
      };
    },
    message: /expired/,
  },
  {
    name: 'unknown kid (an attacker key)',
    make: async () => {
      const attacker = await attackerKey();
      return { attack: await signWith(attacker.privateJwk, claimsLike(webToken), { kid: 'nope', typ: 'at+jwt' }), control: await forgeWithRealKey(key, claimsLike(webToken)) };
    },
    message: /key this gateway does not know/,
  },
];

test('the forgeries are sound: the real token and a token signed with the real key are accepted at web', async () => {
  assert.deepEqual(decodeProtectedHeader(webToken), { alg: 'ES256', typ: 'at+jwt', kid: key.kid });
  await assertServes(webToken, 'real token');
  await assertServes(await forgeWithRealKey(key, claimsLike(webToken)), 'forged with the real key');
});

for (const attack of TOKEN_ATTACKS) {
  test(`token attack: ${attack.name} → 401, audited, upstream untouched, next request served`, async () => {
    const { attack: token, control } = await attack.make();
    await assertServes(control, `${attack.name}: control`);
    const res = await send('/mcp/web', { authorization: `Bearer ${token}` });
    assertRefusedAfterAuthentication(res, attack.name, { status: 401, kind: 'oauth', message: attack.message });
    await assertServes(webToken, `${attack.name}: next request`);
  });
}

test('token attack: HS256 keyed with the AS public key (algorithm confusion, every form of the key) → 401', async () => {
  await assertServes(await forgeWithRealKey(key, claimsLike(webToken)), 'control');
  for (const { name, secret } of publicKeyAsSecrets(key.publicJwk)) {
    const res = await send('/mcp/web', { authorization: `Bearer ${hmacJwt(claimsLike(webToken), { kid: key.kid }, secret)}` });
    assertRefusedAfterAuthentication(res, `HS256 over ${name}`, { status: 401, kind: 'oauth', message: /algorithm/ });
  }
  await assertServes(webToken, 'next request');
});

test('replayed refresh token: reuse after the interval kills the grant, and its access tokens get 401 at once', async () => {
  const tokens = await obtainTokens(gw.url, { username: 'alice', resource: webUrl, scope: 'echo:use' });
  const rotated = await refresh(gw.url, tokens.clientId, tokens.refresh_token);
  assert.equal(rotated.status, 200, JSON.stringify(rotated.json));
  remember(rotated.json.access_token, rotated.json.refresh_token);
  await assertServes(rotated.json.access_token, 'control: the rotated access token works before the replay');
  await new Promise((r) => setTimeout(r, 20));

  const replay = await refresh(gw.url, tokens.clientId, tokens.refresh_token);
  assert.equal(replay.status, 400, JSON.stringify(replay.json));
  assert.equal(replay.json.error, 'invalid_grant');
  assert.equal(replay.json.access_token, undefined);
  const grantId = String(decodeJwt(tokens.access_token).grant_id);
  const reuse = gw.audit.records.filter((r) => r.method === 'oauth.refresh_reuse' && r.credential.id === grantId);
  assert.equal(reuse.length, 1, 'the reuse is an audit record');
  assert.equal(reuse[0]!.subject, 'alice');
  assert.equal(reuse[0]!.decision, 'deny');

  for (const [label, token] of [['the first', tokens.access_token], ['the rotated', rotated.json.access_token]] as const) {
    const res = await send('/mcp/web', { authorization: `Bearer ${token}` });
    assertRefusedAfterAuthentication(res, `${label} access token of the killed grant`, { status: 401, kind: 'oauth', message: /revoked/ });
  }
  const newest = await refresh(gw.url, tokens.clientId, rotated.json.refresh_token);
  assert.equal(newest.json.error, 'invalid_grant', 'the newest refresh token died with the grant');
  await assertServes(webToken, 'another grant of the same user is untouched');
});

test('token in the query string (access_token, api_key, any wdn_ value) → 400 credential_in_url, audited, never read', async () => {
  for (const query of [`access_token=${webToken}`, `api_key=${apiKey.key}`, `x=${apiKey.key}`]) {
    const res = await send(`/mcp/web?${query}`, {});
    assertRefusedAfterAuthentication(res, query.slice(0, 12), { status: 400, kind: 'unknown', message: /credentials in the URL are refused/ });
    assert.equal(res.json.error.data.error, 'credential_in_url');
    // Not even with a valid bearer header next to it: the URL has gone into logs already.
    const both = await send(`/mcp/web?${query}`, { authorization: `Bearer ${webToken}` });
    assert.equal(both.status, 400);
    assert.equal(reachedWeb(both.marker), false);
  }
  await assertServes(webToken, 'the same token in the header');
});

test('caller-supplied identity header: x-warden-identity from the caller never reaches the HTTP upstream', async () => {
  const forged = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"mallory"}').toString('base64url')}.`;
  for (const token of [webToken, apiKey.key]) {
    const res = await send('/mcp/web', { authorization: `Bearer ${token}`, 'x-warden-identity': forged });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const seen = web.seen.find((r) => JSON.stringify(r.body ?? '').includes(res.marker));
    assert.ok(seen, 'the request reached the upstream');
    const identity = seen.headers['x-warden-identity'];
    assert.equal(typeof identity, 'string', "the gateway's own identity JWT");
    assert.notEqual(identity, forged);
    assert.ok(!JSON.stringify(seen.headers).includes('mallory') && !JSON.stringify(seen.headers).includes(forged), 'nothing of the forged header');
    assert.equal(decodeProtectedHeader(identity as string).typ, 'warden-identity+jwt');
    assert.equal(decodeJwt(identity as string).sub, token === webToken ? 'alice' : 'carol');
    remember(identity as string);
  }
});

test('caller-supplied identity in _meta: a forged principal never reaches the stdio child', async () => {
  const { client, transport } = await connectClient(kidsUrl, { authorization: `Bearer ${kidsToken}` });
  try {
    const call = (meta: Record<string, unknown> | undefined, id: number) => rawRequest(gw.url, '/mcp/kids', {
      method: 'POST',
      headers: {
        'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${kidsToken}`,
        'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-06-18', 'x-request-id': `meta-${id}`,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'whoami', arguments: {}, ...(meta ? { _meta: meta } : {}) } }),
    });
    const control = await call(undefined, 1);
    assert.equal(control.status, 200);
    assert.equal(JSON.parse(control.json.result.content[0].text).sub, 'alice', 'control: the child learns the real caller');
    const forged = await call({ [IDENTITY_META_KEY]: { sub: 'mallory', scope: 'admin' }, progressToken: 'p1' }, 2);
    assert.equal(forged.status, 200, JSON.stringify(forged.json));
    const seen = JSON.parse(forged.json.result.content[0].text);
    assert.equal(seen.sub, 'alice', 'the child saw the real caller, not the forged one');
    assert.equal(seen.scope, 'who:use');
    const records = recordsOf('meta-2').filter((r) => r.event === 'call');
    assert.equal(records.length, 1, 'one decision record (the outcome record may follow it)');
    assert.deepEqual([records[0]!.subject, records[0]!.decision, records[0]!.method], ['alice', 'allow', 'tools/call']);
  } finally {
    await client.close();
  }
});

/**
 * Refusals at the HTTP edge (path, Host, Origin) come before authentication and are deliberately not audited
 * (a flood of garbage must not grow the chain): for these, the absence of any record is what is asserted.
 */
function assertRefusedAtTheEdge(res: Sent, what: string, statuses: number[], codes: string[]): void {
  assert.ok(statuses.includes(res.status), `${what}: got ${res.status} ${JSON.stringify(res.json)}`);
  assert.ok(codes.includes(res.json?.error?.data?.error), `${what}: ${JSON.stringify(res.json)}`);
  assert.deepEqual(recordsOf(res.requestId), [], `${what}: not in the audit chain`);
  assert.equal(reachedWeb(res.marker), false, `${what}: the upstream saw nothing`);
}

// Each aims at web from somewhere else; the API key is valid at both upstreams, so only the path check stops them.
const PATH_TRICKS = [
  '/mcp/kids/../web', '/mcp/kids/%2e%2e/web', '/mcp/kids%2F..%2Fweb', '/mcp/kids%2f%2e%2e%2fweb', '/mcp/./web', '/mcp/%77eb', '/mcp/%77%65%62',
  '/mcp//web', '//mcp/web', '/mcp/kids/..%2Fweb', '/mcp/kids\\..\\web', '/mcp/kids;/../web', '/mcp/web%00', '/mcp/WEB', '/mcp/Web', '/MCP/web',
  '/mcp/web.', '/mcp/web..', '/mcp/web%2e', '/mcp/web/.', '/mcp/web/x', '/mcp/kids/web',
  'http://127.0.0.1/mcp/web', '/mcp/%2e%2e/mcp/web',
];

test('path tricks on /mcp/<name> never reach another upstream: 400 bad_path or 404, not audited', async () => {
  const headers = { authorization: `Bearer ${apiKey.key}` };
  await assertServes(apiKey.key, 'control: the key at the plain path');
  const atKids = await send('/mcp/kids', headers);
  assert.equal(atKids.status, 200, 'control: the key at kids');
  for (const path of PATH_TRICKS) {
    assertRefusedAtTheEdge(await send(path, headers), path, [400, 404], ['bad_path', 'not_found']);
  }
  await assertServes(apiKey.key, 'next request');
});

test('DNS rebinding: a foreign Host → 403 forbidden_host, not audited, upstream untouched', async () => {
  const { port } = new URL(gw.url);
  const headers = { authorization: `Bearer ${webToken}` };
  for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1.nip.io:${port}`, `localhost.:${port}`, `127.0.0.2:${port}`, `0.0.0.0:${port}`, `[::ffff:127.0.0.1]:${port}`]) {
    assertRefusedAtTheEdge(await send('/mcp/web', { ...headers, host }), `Host ${host}`, [403], ['forbidden_host']);
  }
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
    const ok = await send('/mcp/web', { ...headers, host });
    assert.equal(ok.status, 200, `control: Host ${host}`);
  }
});

test('foreign Origin → 403 forbidden_origin, not audited, upstream untouched; the gateway\'s own origin works', async () => {
  const { port } = new URL(gw.url);
  const headers = { authorization: `Bearer ${webToken}` };
  for (const origin of ['http://evil.example', 'null', `http://127.0.0.1:${port}.evil.example`, `http://localhost:${Number(port) + 1}`, `https://127.0.0.1:${port}`, `http://127.0.0.1:${port}@evil.example`]) {
    assertRefusedAtTheEdge(await send('/mcp/web', { ...headers, origin }), `Origin ${origin}`, [403], ['forbidden_origin']);
  }
  const own = await send('/mcp/web', { ...headers, origin: `http://127.0.0.1:${port}` });
  assert.equal(own.status, 200, 'control: the gateway\'s own origin');
  assert.equal(own.headers['access-control-allow-origin'], `http://127.0.0.1:${port}`);
});

test('after every attack above the gateway still serves a real SDK client', async () => {
  const { client } = await connectClient(webUrl, { authorization: `Bearer ${webToken}` });
  const result = await client.callTool({ name: 'echo', arguments: { text: 'still here' } });
  assert.equal((result.content as { text: string }[])[0]!.text, 'still here');
  await client.close();
});
