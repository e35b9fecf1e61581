import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { warden } from '../helpers/cli.js';
import { cliConfigs, oauthRecord as rec, withStore } from '../helpers/cli-config.js';
import { existsSync, readFileSync } from 'node:fs';
import { clientSecretMatches, hashClientSecret } from '../../src/authorization-server/client-secrets.js';

const RESOURCE = 'http://127.0.0.1:8787/mcp';
const DYNAMIC_SECRET = 'dyn-secret-0123456789abcdefghijklmnopqrstuv';

const { config } = cliConfigs('clients', { auth: 'auth: { oauth: {} }' });

const clients = (file: string, ...args: string[]) => warden(['clients', ...args, '--config', file]);

/**
 * Two dynamic registrations (one in use by alice and bob, one abandoned) as oidc-provider saves them, grants,
 * refresh tokens and an authorization code under those grants.
 */
async function seed(db: string): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  await withStore(db, async (store) => {
    await store.oauth.upsert(rec('Client', 'dyn-claude', {
      client_id: 'dyn-claude', client_secret: hashClientSecret(DYNAMIC_SECRET), client_name: 'Claude \u001b[31mDesktop',
      redirect_uris: ['http://127.0.0.1:33418/callback'], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post', application_type: 'native', client_id_issued_at: now - 3600,
    }));
    await store.oauth.upsert(rec('Client', 'dyn-idle', {
      client_id: 'dyn-idle', client_name: 'Abandoned', redirect_uris: ['http://localhost:6274/cb'], grant_types: ['authorization_code'],
      response_types: ['code'], token_endpoint_auth_method: 'none', client_id_issued_at: now - 7200,
    }));
    for (const [grant, user] of [['g-alice', 'alice'], ['g-bob', 'bob']] as const) {
      const exp = now + 86_400;
      await store.oauth.upsert(rec('Grant', grant, {
        kind: 'Grant', jti: grant, accountId: user, clientId: 'dyn-claude', iat: now - 60, exp,
        openid: { scope: 'openid offline_access' }, resources: { [RESOURCE]: 'notes:read notes:write' },
      }, { expiresAt: exp * 1000 }));
      await store.oauth.upsert(rec('RefreshToken', `rt-${user}`, {
        kind: 'RefreshToken', jti: `rt-${user}`, accountId: user, clientId: 'dyn-claude', grantId: grant, iat: now - 60, exp,
      }, { grantId: grant, expiresAt: exp * 1000 }));
    }
    await store.oauth.upsert(rec('AuthorizationCode', 'code-alice', { kind: 'AuthorizationCode', accountId: 'alice', clientId: 'dyn-claude', grantId: 'g-alice' },
      { grantId: 'g-alice', expiresAt: Date.now() + 60_000 }));
  });
}

interface ClientJson {
  client_id: string;
  client_name: string | null;
  kind: string;
  grant_types: string[];
  redirect_uris: string[];
  token_endpoint_auth_method: string;
  scope: string | null;
  createdAt: string | null;
  liveGrants: number;
  client_secret?: string;
  grants?: { id: string; user: string; clientId: string; scopes: string[]; resources: Record<string, string[]>; createdAt: string; expiresAt: string }[];
}

async function addJson(file: string, ...args: string[]): Promise<ClientJson & { client_secret: string }> {
  const run = await clients(file, 'add', '--json', ...args);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as ClientJson & { client_secret: string };
}

async function adminRecords(db: string): Promise<{ method: string; target: string; targetKind: string; reason: string; subject: string }[]> {
  return withStore(db, async (store) => (await store.audit.query({ event: 'admin' })).map((r) => JSON.parse(r.body)));
}

describe('warden clients', { concurrency: true }, () => {
  test('list: clients in use with kind, grant types, auth method and live grants; --all adds idle registrations; never a secret', async () => {
    const { file, db } = config();
    await seed(db);
    const svc = await addJson(file, '--name', 'ci', '--scope', 'notes:read');
    const runs = await Promise.all([clients(file, 'list', '--json'), clients(file, 'list', '--all', '--json'), clients(file, 'list'), clients(file, 'list', '--all')]);
    for (const run of runs) {
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stderr, '');
      assert.doesNotMatch(run.stdout, /"client_secret"|client_secret:|sha256:/, 'no secret, not even its digest');
      assert.ok(!run.stdout.includes(hashClientSecret(DYNAMIC_SECRET)) && !run.stdout.includes(svc.client_secret));
      assert.ok(!run.stdout.includes('\u001b'), 'no terminal escapes from a registered name');
    }
    const inUse = JSON.parse(runs[0]!.stdout) as ClientJson[];
    assert.deepEqual(inUse.map((c) => [c.client_id, c.kind, c.liveGrants]).sort(), [['dyn-claude', 'dynamic', 2], [svc.client_id, 'service', 0]].sort());
    const all = JSON.parse(runs[1]!.stdout) as ClientJson[];
    assert.deepEqual(all.map((c) => c.client_id).sort(), ['dyn-claude', 'dyn-idle', svc.client_id].sort());
    const claude = all.find((c) => c.client_id === 'dyn-claude')!;
    assert.deepEqual(claude.grant_types, ['authorization_code', 'refresh_token']);
    assert.deepEqual(claude.redirect_uris, ['http://127.0.0.1:33418/callback']);
    assert.equal(claude.token_endpoint_auth_method, 'client_secret_post');
    assert.equal(claude.client_name, 'Claude \u001b[31mDesktop', 'JSON keeps the name as registered');
    assert.ok(Math.abs(Date.parse(claude.createdAt!) - (Date.now() - 3_600_000)) < 60_000);
    assert.match(runs[2]!.stdout, /^CLIENT ID\s+NAME\s+KIND\s+GRANT TYPES\s+AUTH\s+CREATED\s+GRANTS\s+REDIRECT URIS$/m);
    assert.match(runs[2]!.stdout, /^dyn-claude\s+Claude \?\[31mDesktop\s+dynamic\s+authorization_code,refresh_token\s+client_secret_post\s+\S+\s+2\s+http:\/\/127\.0\.0\.1:33418\/callback$/m);
    assert.doesNotMatch(runs[2]!.stdout, /dyn-idle/);
    assert.match(runs[3]!.stdout, /^dyn-idle\s+Abandoned\s+dynamic\s+authorization_code\s+none\s+\S+\s+0\s+http:\/\/localhost:6274\/cb$/m);
  });

  test('list with nothing in use says --all shows idle registrations', async () => {
    const { file, db } = config();
    await withStore(db, (store) => store.oauth.upsert(rec('Client', 'dyn-idle', { client_id: 'dyn-idle', redirect_uris: ['http://localhost/cb'] })));
    const run = await clients(file, 'list');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'no OAuth clients in use (--all includes 1 registration without a live grant)\n');
    assert.deepEqual(JSON.parse((await clients(file, 'list', '--json')).stdout), []);
  });

  test('show: the client and its grants (user, resources and scopes, times), never its secret', async () => {
    const { file, db } = config();
    await seed(db);
    const json = await clients(file, 'show', 'dyn-claude', '--json');
    assert.equal(json.code, 0, json.stderr);
    assert.doesNotMatch(json.stdout, /"client_secret"|sha256:/);
    assert.ok(!('client_secret' in JSON.parse(json.stdout)));
    const view = JSON.parse(json.stdout) as ClientJson;
    assert.equal(view.liveGrants, 2);
    assert.deepEqual(view.grants!.map((g) => [g.id, g.user, g.clientId]).sort(), [['g-alice', 'alice', 'dyn-claude'], ['g-bob', 'bob', 'dyn-claude']]);
    const g = view.grants![0]!;
    assert.deepEqual(g.resources, { [RESOURCE]: ['notes:read', 'notes:write'] });
    assert.deepEqual(g.scopes, ['openid', 'offline_access']);
    assert.ok(Date.parse(g.expiresAt) > Date.now() + 86_000_000 && Date.parse(g.createdAt) < Date.now());

    const human = await clients(file, 'show', 'dyn-claude');
    assert.equal(human.code, 0, human.stderr);
    assert.ok(!human.stdout.includes('sha256:') && !human.stdout.includes('\u001b'));
    assert.match(human.stdout, /^kind:\s+dynamic$/m);
    assert.match(human.stdout, /^live grants:\s+2$/m);
    assert.match(human.stdout, /^ {2}grant g-alice\n {4}user:\s+alice$/m);
    assert.match(human.stdout, new RegExp(`resources: ${RESOURCE.replace(/\./g, '\\.')}: notes:read notes:write`));

    const unknown = await clients(file, 'show', 'nope');
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, 'warden: no client with id nope; `warden clients list --all` shows them\n');
  });

  test('add: a service client; the secret is shown once and the store keeps only its digest', async () => {
    const { file, db } = config();
    const run = await clients(file, 'add', '--name', 'nightly sync', '--scope', 'notes:read', '--scope', 'notes:write', '--scope', 'notes:read');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    const id = /^client_id:\s+(svc_[A-Za-z0-9_-]{16})$/m.exec(run.stdout)?.[1];
    const secret = /^client_secret:\s+([A-Za-z0-9_-]{43})$/m.exec(run.stdout)?.[1];
    assert.ok(id && secret, run.stdout);
    assert.equal(run.stdout.split(secret).length, 2, 'the secret is printed exactly once');
    assert.match(run.stdout, /only time the client secret is shown/);
    assert.match(run.stdout, /^kind:\s+service$/m);
    assert.match(run.stdout, /^scope:\s+notes:read notes:write$/m);

    const payload = await withStore(db, async (store) => JSON.parse((await store.oauth.find('Client', id, Date.now()))!.payload) as Record<string, unknown>);
    assert.deepEqual({ ...payload, client_secret: '', client_id_issued_at: 0 }, {
      client_id: id, client_secret: '', client_name: 'nightly sync', grant_types: ['client_credentials'], response_types: [], redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic', scope: 'notes:read notes:write', client_id_issued_at: 0,
    });
    assert.match(payload.client_secret as string, /^sha256:/);
    assert.ok(clientSecretMatches(payload.client_secret as string, secret));
    assert.ok(Math.abs((payload.client_id_issued_at as number) - Date.now() / 1000) < 60);
    const bytes = Buffer.concat(['', '-wal'].map((s) => `${db}${s}`).filter(existsSync).map((f) => readFileSync(f)));
    assert.equal(bytes.indexOf(secret), -1, 'the store file holds no secret');

    const json = await addJson(file, '--name', 'other', '--scope', 'notes:read');
    assert.match(json.client_id, /^svc_[A-Za-z0-9_-]{16}$/);
    assert.match(json.client_secret, /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual([json.kind, json.grant_types, json.scope], ['service', ['client_credentials'], 'notes:read']);
    assert.notEqual(json.client_id, id);
  });

  test('add with an unknown scope, no scope or an empty name: exit 2 naming the defined scopes; no store file', async () => {
    const { file, db } = config();
    const unknown = await clients(file, 'add', '--name', 'x', '--scope', 'notes:admin');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^warden: unknown scope 'notes:admin'.*defined: notes:read, notes:write/m);
    assert.equal(unknown.stdout, '');
    const none = await clients(file, 'add', '--name', 'x');
    assert.equal(none.code, 2);
    assert.match(none.stderr, /at least one --scope/);
    const empty = await clients(file, 'add', '--name', ' ', '--scope', 'notes:read');
    assert.equal(empty.code, 2);
    const noName = await clients(file, 'add', '--scope', 'notes:read');
    assert.equal(noName.code, 2);
    assert.equal(existsSync(db), false, 'a usage mistake does not even create the store file');
  });

  test('revoke: the registration, its grants, refresh tokens and codes are gone; the client is listed as revoked; others stay', async () => {
    const { file, db } = config();
    await seed(db);
    const other = await addJson(file, '--name', 'ci', '--scope', 'notes:read');
    await withStore(db, (store) => store.oauth.upsert(rec('Grant', 'g-other', { accountId: 'carol', clientId: 'dyn-idle' })));
    const run = await clients(file, 'revoke', 'dyn-claude', '--json');
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as { client_id: string; removed: boolean; kind: string; grants: string[]; listedUntil: string };
    assert.deepEqual([out.client_id, out.removed, out.kind, out.grants.sort()], ['dyn-claude', true, 'dynamic', ['g-alice', 'g-bob']]);
    assert.ok(Date.parse(out.listedUntil) > Date.now() + 600_000, 'listed for at least the access-token lifetime');
    await withStore(db, async (store) => {
      const now = Date.now();
      assert.equal(await store.oauth.find('Client', 'dyn-claude', now), undefined);
      assert.deepEqual(await store.oauth.list({ model: 'Grant', clientId: 'dyn-claude' }, now), []);
      for (const [model, id] of [['RefreshToken', 'rt-alice'], ['RefreshToken', 'rt-bob'], ['AuthorizationCode', 'code-alice'], ['Grant', 'g-alice']]) {
        assert.equal(await store.oauth.find(model!, id!, now), undefined, `${model} ${id}`);
      }
      assert.equal(await store.revocations.anyRevoked([{ kind: 'client', value: 'dyn-claude' }], 0), true);
      assert.equal(await store.revocations.anyRevoked([{ kind: 'grant', value: 'g-alice' }], 0), true);
      assert.ok(await store.oauth.find('Client', other.client_id, now));
      assert.ok(await store.oauth.find('Grant', 'g-other', now));
      assert.equal(await store.revocations.anyRevoked([{ kind: 'client', value: other.client_id }], 0), false);
    });
    const human = await clients(file, 'revoke', other.client_id);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`^removed client ${other.client_id}; revoked 0 grants$`, 'm'));
  });

  test('revoke of an unknown client: exit 1, but the id is listed as revoked anyway (fail closed)', async () => {
    const { file, db } = config();
    const run = await clients(file, 'revoke', 'gone-already');
    assert.equal(run.code, 1);
    assert.match(run.stdout, /no client gone-already was registered; revoked 0 grants/);
    assert.equal(run.stderr, 'warden: no client with id gone-already; `warden clients list --all` shows them\n');
    await withStore(db, async (store) => assert.equal(await store.revocations.anyRevoked([{ kind: 'client', value: 'gone-already' }], 0), true));
  });

  test('add and revoke are admin records (target kind client) in the audit chain, never the secret', async () => {
    const { file, db } = config();
    await seed(db);
    const svc = await addJson(file, '--name', 'ci', '--scope', 'notes:write');
    assert.equal((await clients(file, 'revoke', 'dyn-claude')).code, 0);
    const records = await adminRecords(db);
    assert.deepEqual(records.map((r) => [r.method, r.target, r.targetKind]), [['clients.add', svc.client_id, 'client'], ['clients.revoke', 'dyn-claude', 'client']]);
    assert.match(records[0]!.reason, /service client "ci": scopes notes:write/);
    assert.match(records[1]!.reason, /registration removed, 2 grants revoked \(g-(alice|bob), g-(alice|bob)\)/);
    assert.ok(records.every((r) => r.subject.length > 0));
    assert.ok(!JSON.stringify(records).includes(svc.client_secret) && !JSON.stringify(records).includes('sha256:'));
    const verify = await warden(['audit', 'verify', '--config', file]);
    assert.equal(verify.code, 0, verify.stderr);
  });

  test('add --tls-san-uri: a service client without a secret that authenticates with its certificate (tls_client_auth, bound tokens)', async () => {
    const { file, db } = config('auth: { oauth: {} }\nlisten: { host: 127.0.0.1, tls: { cert: s.pem, key: s.key, clientCa: ca.pem } }');
    const json = await addJson(file, '--name', 'ci', '--scope', 'notes:read', '--tls-san-uri', 'spiffe://example.org/ci');
    assert.equal(json.client_secret, undefined);
    assert.equal(json.token_endpoint_auth_method, 'tls_client_auth');
    const stored = await withStore(db, async (store) => JSON.parse((await store.oauth.find('Client', json.client_id, Date.now()))!.payload));
    assert.equal(stored.tls_client_auth_san_uri, 'spiffe://example.org/ci');
    assert.equal(stored.tls_client_certificate_bound_access_tokens, true);
    assert.equal(stored.client_secret, undefined);
    const human = await clients(file, 'add', '--name', 'ci2', '--scope', 'notes:read', '--tls-subject-dn', 'CN=ci,O=Example');
    assert.equal(human.code, 0, human.stderr);
    assert.doesNotMatch(human.stdout, /client_secret/);
    assert.match(human.stdout, /client certificate over mutual TLS/);
    const two = await clients(file, 'add', '--name', 'x', '--scope', 'notes:read', '--tls-san-uri', 'a:b', '--tls-san-dns', 'x.example');
    assert.equal(two.code, 2);
    assert.match(two.stderr, /name one certificate name/);
  });

  test('add --tls-san-uri where no certificate reaches the gateway: exit 2 naming listen.tls.clientCa; no store file', async () => {
    const { file, db } = config();
    const run = await clients(file, 'add', '--name', 'ci', '--scope', 'notes:read', '--tls-san-uri', 'spiffe://example.org/ci');
    assert.equal(run.code, 2);
    assert.match(run.stderr, /offers no tls_client_auth.*listen\.tls\.clientCa/);
    assert.equal(existsSync(db), false);
  });

  test('a config without auth.oauth: a warning on stderr, the command still runs', async () => {
    const { file } = config('auth: { apiKeys: {} }');
    const run = await clients(file, 'list', '--json');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /^warden: warning: .* does not turn on OAuth.*set auth: \{ oauth: \{\} \}/m);
    assert.deepEqual(JSON.parse(run.stdout), []);
  });
});
