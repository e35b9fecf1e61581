import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { startOAuthGatewayForAttacks, withStore, type OAuthSetup } from '../helpers/oauth.js';
import { obtainTokens, probeMcp, refresh } from '../helpers/oauth-flow.js';
import { warden } from '../helpers/cli.js';
import { ACCESS_TOKEN_KEY_USE } from '../../src/authorization-server/index.js';

/** Access-token signing: key rotation while the gateway runs, and the claims the tokens carry. */

let setup: OAuthSetup;

before(async () => {
  setup = await startOAuthGatewayForAttacks();
});
after(async () => {
  await setup?.close();
});

async function jwksKids(): Promise<string[]> {
  const res = await fetch(`${setup.issuer}/oauth/jwks`);
  const { keys } = await res.json() as { keys: { kid: string; d?: string }[] };
  assert.ok(keys.every((k) => k.d === undefined), 'no private member is published');
  return keys.map((k) => k.kid);
}

test('rotate-signing: the new key signs after the reload, tokens of the old key keep working, both are in the JWKS', async () => {
  const before = await obtainTokens(setup.issuer, { username: 'alice', resource: setup.notes });
  const oldKid = decodeProtectedHeader(before.access_token).kid!;
  assert.deepEqual(await jwksKids(), [oldKid]);

  // The CLI on the store the gateway uses, as an operator would run it next to `warden serve`.
  const config = join(dirname(setup.dbPath), 'rotate.yaml');
  writeFileSync(config, `auth: { oauth: {} }
store: { sqlite: ${JSON.stringify(setup.dbPath)} }
authorization: { scopes: { "notes:read": { tools: [list_notes] } } }
upstreams: { notes: { url: "http://127.0.0.1:9/mcp" } }
`);
  const run = await warden(['keys', 'rotate-signing', '--use', 'access-tokens', '--json', '--config', config]);
  assert.equal(run.code, 0, run.stderr);
  const [rotated] = JSON.parse(run.stdout) as { use: string; kid: string; retired: string[] }[];
  assert.equal(rotated!.use, ACCESS_TOKEN_KEY_USE);
  assert.deepEqual(rotated!.retired, [oldKid]);
  assert.notEqual(rotated!.kid, oldKid);

  await setup.gw.gateway.reloadKeys(); // what SIGHUP does; otherwise within a minute
  assert.deepEqual((await jwksKids()).sort(), [oldKid, rotated!.kid].sort());
  assert.equal((await probeMcp(setup.notes, before.access_token)).status, 200, 'a token of the retired key still verifies');

  const after = await obtainTokens(setup.issuer, { username: 'alice', resource: setup.notes });
  assert.equal(decodeProtectedHeader(after.access_token).kid, rotated!.kid);
  assert.equal((await probeMcp(setup.notes, after.access_token)).status, 200);

  const records = await withStore(setup.dbPath, (s) => s.audit.query({ event: 'admin' }));
  assert.ok(records.some((r) => r.body.includes('"keys.rotate-signing"') && r.body.includes(rotated!.kid)), 'the rotation is an admin record');
});

test('a retired key leaves the JWKS once every token it signed has expired', async () => {
  const current = await withStore(setup.dbPath, async (s) => {
    const now = Date.now();
    const [key] = await s.signingKeys.list(ACCESS_TOKEN_KEY_USE, now);
    // Retired longer ago than the access-token lifetime (10 min by default): nothing it signed can be live.
    await s.signingKeys.retire(key!.kid, now - 11 * 60_000);
    return key!.kid;
  });
  const earlier = await jwksKids();
  await setup.gw.gateway.reloadKeys();
  const published = await jwksKids();
  assert.ok(earlier.includes(current));
  assert.ok(!published.includes(current), 'the long-retired key is no longer published');
  assert.equal(published.filter((k) => !earlier.includes(k)).length, 1, 'a new signing key was created in its place');
});

test('a user with a tenant gets it in the access token, and the gateway passes it on as the principal\'s tenant', async () => {
  await withStore(setup.dbPath, (s) => s.users.update('bob', { tenant: 'acme' }));
  const tokens = await obtainTokens(setup.issuer, { username: 'bob', resource: setup.notes, scope: 'notes:read' });
  assert.equal(decodeJwt(tokens.access_token).tenant, 'acme');
  const alice = await obtainTokens(setup.issuer, { username: 'alice', resource: setup.notes });
  assert.equal(decodeJwt(alice.access_token).tenant, undefined, 'no tenant, no claim');
  // Refresh issues from the stored grant, without a sign-in: the tenant is still read.
  const refreshed = await refresh(setup.issuer, tokens.clientId, tokens.refresh_token);
  assert.equal(decodeJwt(refreshed.json.access_token).tenant, 'acme');
});
