import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { warden } from '../helpers/cli.js';
import { cliConfigs, oauthRecord as rec, withStore } from '../helpers/cli-config.js';
import { existsSync } from 'node:fs';
import type { RevocationKind } from '../../src/store/index.js';
import { hashClientSecret } from '../../src/authorization-server/client-secrets.js';

const { config } = cliConfigs('tokens', { auth: 'auth: { oauth: { accessTokenTtl: 5m } }', scopes: { 'notes:read': ['search_notes'] } });

const revoke = (file: string, ...args: string[]) => warden(['tokens', 'revoke', ...args, '--config', file]);

/** Grants (each with a refresh token): alice with two clients, bob with one; a session of alice's. */
const GRANTS = [['g-a1', 'alice', 'cli-a'], ['g-a2', 'alice', 'cli-b'], ['g-b1', 'bob', 'cli-a']] as const;

async function seed(db: string): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  await withStore(db, async (store) => {
    for (const id of ['cli-a', 'cli-b']) {
      await store.oauth.upsert(rec('Client', id, {
        client_id: id, client_secret: hashClientSecret(`secret-of-${id}`), redirect_uris: ['http://127.0.0.1:1/cb'],
        grant_types: ['authorization_code', 'refresh_token'], client_id_issued_at: now,
      }));
    }
    for (const [grant, user, client] of GRANTS) {
      const exp = now + 86_400;
      await store.oauth.upsert(rec('Grant', grant, { kind: 'Grant', accountId: user, clientId: client, iat: now, exp, resources: { 'http://127.0.0.1:8787/mcp': 'notes:read' } }, { expiresAt: exp * 1000 }));
      await store.oauth.upsert(rec('RefreshToken', `rt-${grant}`, { kind: 'RefreshToken', accountId: user, clientId: client, grantId: grant, exp }, { grantId: grant, expiresAt: exp * 1000 }));
    }
    await store.oauth.upsert(rec('Session', 'sess-alice', { kind: 'Session', accountId: 'alice' }, { uid: 'uid-alice', expiresAt: Date.now() + 3_600_000 }));
  });
}

/** Which of the seeded grants and refresh tokens are still in the store. */
async function remaining(db: string): Promise<{ grants: string[]; refreshTokens: string[] }> {
  return withStore(db, async (store) => {
    const now = Date.now();
    const grants: string[] = [];
    const refreshTokens: string[] = [];
    for (const [grant] of GRANTS) {
      if (await store.oauth.find('Grant', grant, now)) grants.push(grant);
      if (await store.oauth.find('RefreshToken', `rt-${grant}`, now)) refreshTokens.push(`rt-${grant}`);
    }
    return { grants, refreshTokens };
  });
}

const listed = (db: string, kind: RevocationKind, value: string) => withStore(db, (store) => store.revocations.anyRevoked([{ kind, value }], 0));

async function adminRecords(db: string): Promise<{ method: string; target: string; targetKind: string; reason: string }[]> {
  return withStore(db, async (store) => (await store.audit.query({ event: 'admin' })).map((r) => JSON.parse(r.body)));
}

interface RevokeJson {
  kind: string;
  value: string;
  grants: string[];
  listedUntil: string;
  found?: boolean;
  user?: string | null;
  clientId?: string | null;
}

describe('warden tokens revoke', { concurrency: true }, () => {
  test('--user: every grant of the user across clients, their refresh tokens and sessions; others stay', async () => {
    const { file, db } = config();
    await seed(db);
    const run = await revoke(file, '--user', 'alice', '--json');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    const out = JSON.parse(run.stdout) as RevokeJson;
    assert.deepEqual([out.kind, out.value, out.grants.sort()], ['user', 'alice', ['g-a1', 'g-a2']]);
    // Listed for the access-token lifetime of the config (5m) plus a minute of clock skew.
    const listedFor = Date.parse(out.listedUntil) - Date.now();
    assert.ok(listedFor > 5 * 60_000 && listedFor <= 6 * 60_000, `listed for ${listedFor} ms`);
    assert.deepEqual(await remaining(db), { grants: ['g-b1'], refreshTokens: ['rt-g-b1'] });
    assert.equal(await listed(db, 'user', 'alice'), true);
    assert.equal(await listed(db, 'grant', 'g-a1'), true);
    assert.equal(await listed(db, 'user', 'bob'), false);
    await withStore(db, async (store) => {
      assert.equal(await store.oauth.find('Session', 'sess-alice', Date.now()), undefined, 'signed out at the authorization server');
      assert.ok(await store.oauth.find('Client', 'cli-a', Date.now()), 'clients stay registered');
    });
  });

  test('--user human output; an unknown user: listed anyway, no grants found, exit 0', async () => {
    const { file, db } = config();
    await seed(db);
    const run = await revoke(file, '--user', 'bob');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^revoked 1 grant of user bob: g-b1$/m);
    assert.match(run.stdout, /listed as revoked until \d{4}-\d\d-\d\dT/);
    const unknown = await revoke(file, '--user', 'mallory');
    assert.equal(unknown.code, 0, unknown.stderr);
    assert.match(unknown.stdout, /^no grants were found for user mallory$/m);
    assert.equal(await listed(db, 'user', 'mallory'), true, 'fail closed: listed even without grants');
    assert.deepEqual((await remaining(db)).grants, ['g-a1', 'g-a2']);
  });

  test('--client: every grant of the client; its registration stays; the client is listed', async () => {
    const { file, db } = config();
    await seed(db);
    const run = await revoke(file, '--client', 'cli-a', '--json');
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as RevokeJson;
    assert.deepEqual([out.kind, out.value, out.grants.sort()], ['client', 'cli-a', ['g-a1', 'g-b1']]);
    assert.deepEqual(await remaining(db), { grants: ['g-a2'], refreshTokens: ['rt-g-a2'] });
    assert.equal(await listed(db, 'client', 'cli-a'), true);
    assert.equal(await listed(db, 'client', 'cli-b'), false);
    await withStore(db, async (store) => assert.ok(await store.oauth.find('Client', 'cli-a', Date.now())));
    const unknown = await revoke(file, '--client', 'nobody');
    assert.equal(unknown.code, 0, unknown.stderr);
    assert.match(unknown.stdout, /^no grants were found for client nobody$/m);
    assert.equal(await listed(db, 'client', 'nobody'), true);
  });

  test('--grant: that grant and its refresh token only, naming its user and client; an unknown grant: exit 1 but listed', async () => {
    const { file, db } = config();
    await seed(db);
    const run = await revoke(file, '--grant', 'g-a2', '--json');
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as RevokeJson;
    assert.deepEqual(out.grants, ['g-a2']);
    assert.deepEqual([out.kind, out.found, out.user, out.clientId], ['grant', true, 'alice', 'cli-b']);
    assert.deepEqual(await remaining(db), { grants: ['g-a1', 'g-b1'], refreshTokens: ['rt-g-a1', 'rt-g-b1'] });
    assert.equal(await listed(db, 'grant', 'g-a2'), true);
    assert.equal(await listed(db, 'user', 'alice'), false, 'only the grant, not the user');

    const human = await revoke(file, '--grant', 'g-b1');
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^revoked grant g-b1 \(user bob, client cli-a\)$/m);

    const unknown = await revoke(file, '--grant', 'g-a2');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stdout, /^no grant g-a2 was found$/m);
    assert.match(unknown.stderr, /^warden: no such grant: g-a2/m);
    const unknownJson = await revoke(file, '--grant', 'g-zzz', '--json');
    assert.equal(unknownJson.code, 1);
    assert.deepEqual((JSON.parse(unknownJson.stdout) as RevokeJson).found, false);
    assert.equal(await listed(db, 'grant', 'g-zzz'), true, 'fail closed: listed even when unknown');
  });

  test('exactly one of --user, --client, --grant: otherwise exit 2 and nothing happens', async () => {
    const { file, db } = config();
    for (const args of [[], ['--user', 'alice', '--client', 'cli-a'], ['--user', 'a', '--client', 'b', '--grant', 'c'], ['--grant', '']]) {
      const run = await revoke(file, ...args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.equal(run.stdout, '');
    }
    const none = await revoke(file);
    assert.match(none.stderr, /^warden: name exactly one of --user, --client or --grant$/m);
    const two = await revoke(file, '--user', 'alice', '--grant', 'g');
    assert.match(two.stderr, /exactly one .*\(got --user, --grant\)/);
    assert.equal(existsSync(db), false, 'a usage mistake does not even open the store');
  });

  test('admin records tokens.revoke with target kinds user, client and grant; the chain verifies', async () => {
    const { file, db } = config();
    await seed(db);
    for (const args of [['--user', 'bob'], ['--client', 'cli-b'], ['--grant', 'g-a1'], ['--grant', 'g-none']]) await revoke(file, ...args);
    const records = await adminRecords(db);
    assert.deepEqual(records.map((r) => [r.method, r.target, r.targetKind]), [
      ['tokens.revoke', 'bob', 'user'], ['tokens.revoke', 'cli-b', 'client'], ['tokens.revoke', 'g-a1', 'grant'], ['tokens.revoke', 'g-none', 'grant'],
    ]);
    assert.match(records[0]!.reason, /^user bob: 1 grant revoked \(g-b1\)$/);
    assert.match(records[1]!.reason, /^client cli-b: 1 grant revoked \(g-a2\)$/);
    assert.match(records[2]!.reason, /^grant g-a1: grant revoked \(user alice, client cli-a\)$/);
    assert.match(records[3]!.reason, /no such grant; listed as revoked anyway/);
    const verify = await warden(['audit', 'verify', '--config', file]);
    assert.equal(verify.code, 0, verify.stderr);
  });

  test('a config without auth.oauth: a warning, and revocations listed for the longest token lifetime', async () => {
    const { file, db } = config('auth: { apiKeys: {} }');
    const run = await revoke(file, '--user', 'alice', '--json');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /^warden: warning: .* does not turn on OAuth/m);
    const listedFor = Date.parse((JSON.parse(run.stdout) as RevokeJson).listedUntil) - Date.now();
    assert.ok(listedFor > 3_600_000, `listed for ${listedFor} ms`);
    assert.equal(await listed(db, 'user', 'alice'), true);
  });
});
