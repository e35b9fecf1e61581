import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { StoreError, type ApiKeyRecord, type AuditRow, type OAuthModelRecord, type SigningKeyRecord, type Store, type UserRecord } from '../../src/store/index.js';
import { GENESIS_HASH, sealAuditRecord } from '../../src/audit/chain.js';
import { verifyAuditChain, verifyAuditChains } from '../../src/audit/verify.js';
import type { AuditRecord } from '../../src/audit/record.js';

/**
 * The store contract: every method of every model, run against each implementation (SQLite and PostgreSQL),
 * so that the gateway behaves the same on either. Each test opens its own empty store.
 */
export interface StoreUnderTest {
  /** A fresh, empty, migrated store. */
  open(): Promise<Store>;
  /** A second connection to the store `first` opened (another process, in effect). */
  second(first: Store): Promise<Store>;
  /** Drops whatever open() created. */
  cleanup(store: Store): Promise<void>;
}

/** Record fixtures, shared with the SQLite-only tests. */
export function apiKey(id: string, overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return {
    id, hash: 'ab'.repeat(32), subject: 'alice', tenant: null, name: null, scopes: ['notes:read'], roles: [],
    createdAt: 1_000, expiresAt: null, lastUsedAt: null, revokedAt: null, replacedBy: null, ...overrides,
  };
}

export function signingKey(kid: string, overrides: Partial<SigningKeyRecord> = {}): SigningKeyRecord {
  return { kid, use: 'upstream-identity', alg: 'EdDSA', privateJwk: '{"d":"x"}', publicJwk: '{"x":"y"}', createdAt: 1_000, retiredAt: null, ...overrides };
}

function model(id: string, overrides: Partial<OAuthModelRecord> = {}): OAuthModelRecord {
  return { model: 'Grant', id, payload: JSON.stringify({ accountId: 'alice', clientId: 'c1' }), grantId: null, userCode: null, uid: null, expiresAt: 10_000, consumedAt: null, ...overrides };
}

function user(username: string, overrides: Partial<UserRecord> = {}): UserRecord {
  return {
    username, passwordHash: 'scrypt$x', roles: ['reader'], tenant: null, displayName: null, createdAt: 1_000, disabledAt: null,
    passwordChangedAt: 1_000, failedLogins: 0, lockedUntil: null, ...overrides,
  };
}

const T0 = Date.parse('2025-06-01T00:00:00.000Z');

function record(i: number, overrides: Partial<AuditRecord> = {}): AuditRecord {
  return {
    ts: new Date(T0 + i * 60_000).toISOString(), instance: 'gw-a', event: 'call', requestId: `r${i}`, subject: 'alice',
    credential: { kind: 'api_key', id: 'k1' }, method: 'tools/call', target: 'notes_get', decision: 'allow', reason: 'scope', ...overrides,
  };
}

const seqs = (rows: AuditRow[]) => rows.map((r) => r.seq);
const where = (rows: AuditRow[]) => rows.map((r) => `${r.instance}#${r.seq}`);

export function storeContract(name: string, impl: StoreUnderTest): void {
  /** Opens a store, runs `fn`, and drops the store whatever happens. */
  const withStore = (fn: (store: Store) => Promise<void>) => async () => {
    const store = await impl.open();
    try {
      await fn(store);
    } finally {
      await impl.cleanup(store);
    }
  };

  describe(`store contract: ${name}`, { concurrency: 4 }, () => {
    describe('api keys', () => {
      test('insert then get returns the same record; an id taken already is a conflict and changes nothing', withStore(async (s) => {
        const key = apiKey('k1', { tenant: 't1', name: 'ci', roles: ['r'], expiresAt: 9_000_000_000_000 });
        await s.apiKeys.insert(key);
        assert.deepEqual(await s.apiKeys.get('k1'), key);
        await assert.rejects(s.apiKeys.insert(apiKey('k1', { subject: 'mallory' })), (e: unknown) => e instanceof StoreError && e.code === 'conflict' && /k1/.test(e.message));
        assert.equal((await s.apiKeys.get('k1'))!.subject, 'alice');
        assert.equal(await s.apiKeys.get('nope'), undefined);
      }));

      test('list filters by subject and tenant, leaves out inactive keys unless asked, newest first', withStore(async (s) => {
        await s.apiKeys.insert(apiKey('a', { createdAt: 1 }));
        await s.apiKeys.insert(apiKey('b', { createdAt: 3, tenant: 't' }));
        await s.apiKeys.insert(apiKey('c', { createdAt: 2, subject: 'bob' }));
        await s.apiKeys.insert(apiKey('d', { createdAt: 4, revokedAt: 5 }));
        await s.apiKeys.insert(apiKey('e', { createdAt: 5, expiresAt: 100 }));
        const ids = async (f: Parameters<Store['apiKeys']['list']>[0]) => (await s.apiKeys.list(f, 200)).map((k) => k.id);
        assert.deepEqual(await ids({}), ['b', 'c', 'a']);
        assert.deepEqual(await ids({ includeInactive: true }), ['e', 'd', 'b', 'c', 'a']);
        assert.deepEqual(await ids({ subject: 'alice' }), ['b', 'a']);
        assert.deepEqual(await ids({ tenant: 't' }), ['b']);
      }));

      test('revoke keeps the first revocation time; a missing key is false', withStore(async (s) => {
        await s.apiKeys.insert(apiKey('k1'));
        assert.equal(await s.apiKeys.revoke('k1', 5_000), true);
        assert.equal(await s.apiKeys.revoke('k1', 9_000), true);
        assert.equal((await s.apiKeys.get('k1'))!.revokedAt, 5_000);
        assert.equal(await s.apiKeys.revoke('nope', 5_000), false);
      }));

      test('touch never moves last use backwards', withStore(async (s) => {
        await s.apiKeys.insert(apiKey('k1'));
        await s.apiKeys.touch('k1', 5_000);
        await s.apiKeys.touch('k1', 4_000);
        assert.equal((await s.apiKeys.list({}, 0))[0]!.lastUsedAt, 5_000);
      }));

      test('rotate inserts the replacement and cuts the old expiry, in one step', withStore(async (s) => {
        await s.apiKeys.insert(apiKey('old', { expiresAt: 50_000 }));
        assert.equal(await s.apiKeys.rotate('old', apiKey('new', { createdAt: 2_000 }), 10_000), true);
        const old = await s.apiKeys.get('old');
        assert.equal(old!.replacedBy, 'new');
        assert.equal(old!.expiresAt, 10_000);
        assert.ok(await s.apiKeys.get('new'));
        // A later cut never extends: min(existing, new).
        await s.apiKeys.insert(apiKey('short', { expiresAt: 3_000 }));
        assert.equal(await s.apiKeys.rotate('short', apiKey('short2'), 10_000), true);
        assert.equal((await s.apiKeys.get('short'))!.expiresAt, 3_000);
      }));

      test('rotate is all-or-nothing: a revoked, rotated or missing key, or a clashing replacement id, changes nothing', withStore(async (s) => {
        await s.apiKeys.insert(apiKey('revoked', { revokedAt: 1 }));
        await s.apiKeys.insert(apiKey('live'));
        await s.apiKeys.insert(apiKey('taken'));
        assert.equal(await s.apiKeys.rotate('revoked', apiKey('r2'), 10), false);
        assert.equal(await s.apiKeys.rotate('missing', apiKey('m2'), 10), false);
        assert.equal(await s.apiKeys.get('r2'), undefined);
        await assert.rejects(s.apiKeys.rotate('live', apiKey('taken'), 10), (e: unknown) => e instanceof StoreError && e.code === 'conflict');
        assert.equal((await s.apiKeys.get('live'))!.replacedBy, null, 'the failed rotation left the old key as it was');
        assert.equal(await s.apiKeys.rotate('live', apiKey('l2'), 10), true);
        assert.equal(await s.apiKeys.rotate('live', apiKey('l3'), 10), false, 'rotated already');
      }));

      test('a revocation through a second connection holds on the first at the next read, though the key was read (cached) before', withStore(async (s) => {
        await s.apiKeys.insert(apiKey('k1'));
        assert.equal((await s.apiKeys.get('k1'))!.revokedAt, null);
        const other = await impl.second(s);
        try {
          await other.apiKeys.revoke('k1', 7_000);
        } finally {
          await other.close();
        }
        assert.equal((await s.apiKeys.get('k1'))!.revokedAt, 7_000);
      }));
    });

    describe('signing keys', () => {
      test('insert, list newest first by use, retire; a retired key stays published after publishedSince', withStore(async (s) => {
        await s.signingKeys.insert(signingKey('a', { createdAt: 1 }));
        await s.signingKeys.insert(signingKey('b', { createdAt: 2 }));
        await s.signingKeys.insert(signingKey('other', { use: 'access-token' }));
        await assert.rejects(s.signingKeys.insert(signingKey('a')), (e: unknown) => e instanceof StoreError && e.code === 'conflict');
        assert.deepEqual((await s.signingKeys.list('upstream-identity', 0)).map((k) => k.kid), ['b', 'a']);
        assert.equal(await s.signingKeys.retire('a', 100), true);
        assert.equal(await s.signingKeys.retire('a', 200), false, 'retired already');
        assert.deepEqual((await s.signingKeys.list('upstream-identity', 50)).map((k) => k.kid), ['b', 'a']);
        assert.deepEqual((await s.signingKeys.list('upstream-identity', 100)).map((k) => k.kid), ['b']);
        assert.deepEqual(await s.signingKeys.list('upstream-identity', 0).then((l) => l.find((k) => k.kid === 'a')), signingKey('a', { createdAt: 1, retiredAt: 100 }));
      }));

      test('insertIfNoneActive inserts only when no key of the use signs at that time', withStore(async (s) => {
        assert.equal(await s.signingKeys.insertIfNoneActive(signingKey('first'), 1_000), true);
        assert.equal(await s.signingKeys.insertIfNoneActive(signingKey('second'), 1_000), false);
        assert.equal(await s.signingKeys.insertIfNoneActive(signingKey('other-use', { use: 'access-token' }), 1_000), true, 'per use');
        await s.signingKeys.retire('first', 2_000);
        assert.equal(await s.signingKeys.insertIfNoneActive(signingKey('third'), 1_500), false, 'first still signs at 1500');
        assert.equal(await s.signingKeys.insertIfNoneActive(signingKey('third'), 2_000), true, 'first retired at 2000');
      }));

      test('concurrent insertIfNoneActive from several connections creates one key', withStore(async (s) => {
        const others = await Promise.all([impl.second(s), impl.second(s)]);
        try {
          const results = await Promise.all([s, ...others].map((st, i) => st.signingKeys.insertIfNoneActive(signingKey(`k${i}`), 1_000)));
          assert.equal(results.filter(Boolean).length, 1, JSON.stringify(results));
          assert.equal((await s.signingKeys.list('upstream-identity', 0)).length, 1);
        } finally {
          for (const o of others) await o.close();
        }
      }));
    });

    describe('oauth models', () => {
      test('upsert then find; a second upsert replaces the payload but keeps the first consumption', withStore(async (s) => {
        await s.oauth.upsert(model('g1'));
        assert.deepEqual(await s.oauth.find('Grant', 'g1', 0), model('g1'));
        await s.oauth.consume('Grant', 'g1', 500);
        await s.oauth.consume('Grant', 'g1', 900);
        await s.oauth.upsert(model('g1', { payload: '{"accountId":"alice","v":2}', consumedAt: null }));
        const found = await s.oauth.find('Grant', 'g1', 0);
        assert.equal(found!.consumedAt, 500);
        assert.equal(found!.payload, '{"accountId":"alice","v":2}');
      }));

      test('expired records are not found; a record without expiry always is', withStore(async (s) => {
        await s.oauth.upsert(model('g1', { expiresAt: 1_000 }));
        await s.oauth.upsert(model('c1', { model: 'Client', expiresAt: null }));
        assert.ok(await s.oauth.find('Grant', 'g1', 999));
        assert.equal(await s.oauth.find('Grant', 'g1', 1_000), undefined);
        assert.ok(await s.oauth.find('Client', 'c1', Number.MAX_SAFE_INTEGER));
      }));

      test('findByUid and findByUserCode, within the model', withStore(async (s) => {
        await s.oauth.upsert(model('i1', { model: 'Interaction', uid: 'u-1' }));
        await s.oauth.upsert(model('d1', { model: 'DeviceCode', userCode: 'ABCD-EFGH' }));
        assert.equal((await s.oauth.findByUid('Interaction', 'u-1', 0))!.id, 'i1');
        assert.equal(await s.oauth.findByUid('Session', 'u-1', 0), undefined);
        assert.equal((await s.oauth.findByUserCode('DeviceCode', 'ABCD-EFGH', 0))!.id, 'd1');
        assert.equal(await s.oauth.findByUserCode('DeviceCode', 'ABCD-EFGH', 20_000), undefined, 'expired');
      }));

      test('destroy, revokeByGrantId per model, and purgeExpired', withStore(async (s) => {
        await s.oauth.upsert(model('a1', { model: 'AccessToken', grantId: 'g' }));
        await s.oauth.upsert(model('a2', { model: 'AccessToken', grantId: 'g' }));
        await s.oauth.upsert(model('r1', { model: 'RefreshToken', grantId: 'g' }));
        await s.oauth.upsert(model('a3', { model: 'AccessToken', grantId: 'other', expiresAt: 50 }));
        assert.equal(await s.oauth.revokeByGrantId('AccessToken', 'g'), 2);
        assert.ok(await s.oauth.find('RefreshToken', 'r1', 0));
        await s.oauth.destroy('RefreshToken', 'r1');
        assert.equal(await s.oauth.find('RefreshToken', 'r1', 0), undefined);
        assert.equal(await s.oauth.purgeExpired(50), 1);
        assert.equal(await s.oauth.purgeExpired(50), 0);
      }));

      test('list: unexpired, by account, client or grant, newest first by first save', withStore(async (s) => {
        await s.oauth.upsert(model('g1'));
        await s.oauth.upsert(model('g2', { payload: JSON.stringify({ accountId: 'bob', clientId: 'c1' }) }));
        await s.oauth.upsert(model('g3', { payload: JSON.stringify({ accountId: 'alice', clientId: 'c2' }), grantId: 'x' }));
        await s.oauth.upsert(model('g4', { expiresAt: 10 }));
        await s.oauth.upsert(model('g1', { payload: JSON.stringify({ accountId: 'alice', clientId: 'c1', v: 2 }) }));
        const ids = async (f: Omit<Parameters<Store['oauth']['list']>[0], 'model'>) => (await s.oauth.list({ model: 'Grant', ...f }, 100)).map((r) => r.id);
        assert.deepEqual(await ids({}), ['g3', 'g2', 'g1']);
        assert.deepEqual(await ids({ accountId: 'alice' }), ['g3', 'g1']);
        assert.deepEqual(await ids({ clientId: 'c1' }), ['g2', 'g1']);
        assert.deepEqual(await ids({ grantId: 'x' }), ['g3']);
      }));
    });

    describe('revocations', () => {
      test('anyRevoked: an entry revoked at or after issuedAt, any of several', withStore(async (s) => {
        await s.revocations.add({ kind: 'grant', value: 'g1' }, 1_000, 5_000);
        assert.equal(await s.revocations.anyRevoked([{ kind: 'grant', value: 'g1' }], 1_000), true, 'at issuedAt');
        assert.equal(await s.revocations.anyRevoked([{ kind: 'grant', value: 'g1' }], 999), true);
        assert.equal(await s.revocations.anyRevoked([{ kind: 'grant', value: 'g1' }], 1_001), false, 'issued after the revocation');
        assert.equal(await s.revocations.anyRevoked([{ kind: 'user', value: 'g1' }], 0), false, 'per kind');
        assert.equal(await s.revocations.anyRevoked([{ kind: 'jti', value: 'j' }, { kind: 'client', value: 'c' }, { kind: 'grant', value: 'g1' }], 0), true);
        assert.equal(await s.revocations.anyRevoked([], 0), false);
      }));

      test('adding again moves revokedAt and expiresAt later, never earlier; purge drops expired entries', withStore(async (s) => {
        await s.revocations.add({ kind: 'user', value: 'alice' }, 1_000, 5_000);
        await s.revocations.add({ kind: 'user', value: 'alice' }, 500, 3_000);
        assert.equal(await s.revocations.anyRevoked([{ kind: 'user', value: 'alice' }], 1_000), true);
        await s.revocations.add({ kind: 'user', value: 'alice' }, 2_000, 6_000);
        assert.equal(await s.revocations.anyRevoked([{ kind: 'user', value: 'alice' }], 1_500), true, 'revoked again later');
        assert.equal(await s.revocations.purgeExpired(5_999), 0);
        assert.equal(await s.revocations.purgeExpired(6_000), 1);
        assert.equal(await s.revocations.anyRevoked([{ kind: 'user', value: 'alice' }], 0), false);
      }));

      test('a revocation through a second connection holds on the first at the next check', withStore(async (s) => {
        const entry = { kind: 'client' as const, value: 'c1' };
        assert.equal(await s.revocations.anyRevoked([entry], 0), false);
        const other = await impl.second(s);
        try {
          await other.revocations.add(entry, 10, 1_000);
        } finally {
          await other.close();
        }
        assert.equal(await s.revocations.anyRevoked([entry], 0), true);
      }));
    });

    describe('users', () => {
      test('insert, get, conflict, list by username', withStore(async (s) => {
        await s.users.insert(user('bob'));
        await s.users.insert(user('Alice', { tenant: 't', displayName: 'A', roles: ['admin', 'reader'] }));
        await s.users.insert(user('alice'));
        await assert.rejects(s.users.insert(user('bob')), (e: unknown) => e instanceof StoreError && e.code === 'conflict' && /bob/.test(e.message));
        assert.deepEqual(await s.users.get('Alice'), user('Alice', { tenant: 't', displayName: 'A', roles: ['admin', 'reader'] }));
        assert.equal(await s.users.get('carol'), undefined);
        assert.deepEqual((await s.users.list()).map((u) => u.username), ['Alice', 'alice', 'bob']);
      }));

      test('update applies the given fields only; false for a missing user', withStore(async (s) => {
        await s.users.insert(user('bob'));
        assert.equal(await s.users.update('bob', { roles: ['admin'], disabledAt: 7 }), true);
        const bob = await s.users.get('bob');
        assert.deepEqual(bob!.roles, ['admin']);
        assert.equal(bob!.disabledAt, 7);
        assert.equal(bob!.passwordHash, 'scrypt$x');
        assert.equal(await s.users.update('bob', {}), true);
        assert.equal(await s.users.update('nobody', { roles: [] }), false);
        assert.equal(await s.users.update('nobody', {}), false);
      }));

      test('recordFailedLogin counts, locks at the threshold and starts counting again', withStore(async (s) => {
        await s.users.insert(user('bob'));
        assert.equal((await s.users.recordFailedLogin('bob', 100, 3, 1_000))!.failedLogins, 1);
        assert.equal((await s.users.recordFailedLogin('bob', 100, 3, 1_000))!.failedLogins, 2);
        const locked = await s.users.recordFailedLogin('bob', 100, 3, 1_000);
        assert.equal(locked!.failedLogins, 0);
        assert.equal(locked!.lockedUntil, 1_100);
        assert.equal(await s.users.recordFailedLogin('nobody', 100, 3, 1_000), undefined);
      }));

      test('concurrent failed sign-ins are all counted', withStore(async (s) => {
        await s.users.insert(user('bob'));
        await Promise.all(Array.from({ length: 8 }, () => s.users.recordFailedLogin('bob', 100, 100, 1_000)));
        assert.equal((await s.users.get('bob'))!.failedLogins, 8);
      }));
    });

    describe('audit: one chain per instance', () => {
      test('append seals each record after the newest of its own instance, and returns the rows as stored', withStore(async (s) => {
        const a = await s.audit.append('gw-a', [record(0), record(1)], sealAuditRecord);
        assert.deepEqual(seqs(a), [1, 2]);
        assert.equal(a[0]!.prevHash, GENESIS_HASH);
        assert.equal(a[1]!.prevHash, a[0]!.hash);
        const b = await s.audit.append('gw-b', [record(2, { instance: 'gw-b' })], sealAuditRecord);
        assert.deepEqual(seqs(b), [1], "another instance's chain starts at 1");
        assert.equal(b[0]!.prevHash, GENESIS_HASH);
        const a3 = await s.audit.append('gw-a', [record(3)], sealAuditRecord);
        assert.equal(a3[0]!.seq, 3);
        assert.equal(a3[0]!.prevHash, a[1]!.hash, 'sealed after its own chain, not after gw-b');
        assert.deepEqual(await s.audit.head('gw-a'), { seq: 3, hash: a3[0]!.hash });
        assert.deepEqual(await s.audit.head('gw-b'), { seq: 1, hash: b[0]!.hash });
        assert.deepEqual(await s.audit.head('nobody'), { seq: 0, hash: GENESIS_HASH });
        assert.deepEqual(await s.audit.anchor('gw-a'), { seq: 0, hash: GENESIS_HASH });
        assert.deepEqual(await s.audit.scan('gw-a', 0, 10), [...a, ...a3]);
        assert.deepEqual(await s.audit.scan('gw-a', 1, 1), [a[1]]);
        assert.deepEqual(await s.audit.append('gw-a', [], sealAuditRecord), []);
        const chains = await s.audit.chains();
        assert.deepEqual(chains.map((c) => [c.instance, c.head.seq, c.anchor.seq]), [['gw-a', 3, 0], ['gw-b', 1, 0]]);
        const verified = await verifyAuditChains(s.audit);
        assert.equal(verified.ok, true, JSON.stringify(verified));
        assert.equal(verified.records, 4);
      }));

      test('a seal that throws in the middle of a batch leaves nothing of the batch behind', withStore(async (s) => {
        await s.audit.append('gw-a', [record(0)], sealAuditRecord);
        let calls = 0;
        await assert.rejects(s.audit.append('gw-a', [record(1), record(2)], (seq, prev, r) => {
          if (++calls === 2) throw new Error('boom');
          return sealAuditRecord(seq, prev, r);
        }), /boom/);
        assert.equal((await s.audit.head('gw-a')).seq, 1);
      }));

      test('concurrent appends through several connections to one chain and to several interleave without a fork', withStore(async (s) => {
        const others = await Promise.all([impl.second(s), impl.second(s)]);
        try {
          const writers = [s, ...others];
          await Promise.all(Array.from({ length: 30 }, (_, i) => {
            const instance = i % 3 === 2 ? 'gw-b' : 'gw-a';
            return writers[i % writers.length]!.audit.append(instance, [record(i, { instance })], sealAuditRecord);
          }));
          assert.deepEqual((await s.audit.chains()).map((c) => [c.instance, c.head.seq]), [['gw-a', 20], ['gw-b', 10]]);
          assert.equal((await verifyAuditChains(s.audit)).ok, true);
        } finally {
          for (const o of others) await o.close();
        }
      }));

      describe('query merges the chains by time, then instance, then seq', () => {
        /** gw-a: records at minutes 0, 2, 4, ...; gw-b at 1, 3, 5, ...; one pair at the same minute. */
        const filled = async (s: Store) => {
          const a = Array.from({ length: 6 }, (_, i) => record(2 * i, { subject: i % 2 ? 'bob' : 'alice', target: i === 0 ? 'notes_delete' : 'notes_get', decision: i === 1 ? 'deny' : 'allow', upstream: 'notes' }));
          const b = Array.from({ length: 6 }, (_, i) => record(2 * i + 1, { instance: 'gw-b', event: i === 2 ? 'admin' : 'call', upstream: i === 0 ? 'files' : 'notes' }));
          b.push(record(4, { instance: 'gw-b', requestId: 'same-minute' }));
          await s.audit.append('gw-a', a, sealAuditRecord);
          await s.audit.append('gw-b', b, sealAuditRecord);
        };

        test('no filter: every row, in (ts, instance, seq) order; desc reverses it', withStore(async (s) => {
          await filled(s);
          const rows = await s.audit.query({});
          assert.deepEqual(where(rows).slice(0, 6), ['gw-a#1', 'gw-b#1', 'gw-a#2', 'gw-b#2', 'gw-a#3', 'gw-b#7']);
          assert.equal(rows.length, 13);
          assert.deepEqual(where(await s.audit.query({ order: 'desc', limit: 2 })), ['gw-b#6', 'gw-a#6']);
        }));

        test('filters: subject, target, decision, event, upstream, instance, combined with AND; a value is data, not SQL', withStore(async (s) => {
          await filled(s);
          assert.deepEqual(where(await s.audit.query({ subject: 'bob' })), ['gw-a#2', 'gw-a#4', 'gw-a#6']);
          assert.deepEqual(where(await s.audit.query({ target: 'notes_delete' })), ['gw-a#1']);
          assert.deepEqual(where(await s.audit.query({ decision: 'deny' })), ['gw-a#2']);
          assert.deepEqual(where(await s.audit.query({ event: 'admin' })), ['gw-b#3']);
          assert.deepEqual(where(await s.audit.query({ upstream: 'files' })), ['gw-b#1']);
          assert.equal((await s.audit.query({ instance: 'gw-b' })).length, 7);
          assert.deepEqual(where(await s.audit.query({ subject: 'alice', instance: 'gw-a', decision: 'allow' })), ['gw-a#1', 'gw-a#3', 'gw-a#5']);
          assert.deepEqual(await s.audit.query({ subject: "' OR 1=1 --" }), []);
        }));

        test('since is inclusive, until exclusive; limit caps', withStore(async (s) => {
          await filled(s);
          assert.deepEqual(where(await s.audit.query({ since: T0 + 2 * 60_000, until: T0 + 4 * 60_000 })), ['gw-a#2', 'gw-b#2']);
          assert.equal((await s.audit.query({ limit: 3 })).length, 3);
          assert.equal((await s.audit.query({ limit: 0 })).length, 0);
          await assert.rejects(s.audit.query({ since: Number.NaN }), RangeError);
        }));

        test('after and before page through the merged order without a gap or a repeat', withStore(async (s) => {
          await filled(s);
          const all = where(await s.audit.query({}));
          const seen: string[] = [];
          let after: { ts: string; instance: string; seq: number } | undefined;
          for (;;) {
            const page = await s.audit.query({ ...(after ? { after } : {}), limit: 4 });
            seen.push(...where(page));
            if (page.length < 4) break;
            const last = page.at(-1)!;
            after = { ts: (JSON.parse(last.body) as { ts: string }).ts, instance: last.instance, seq: last.seq };
          }
          assert.deepEqual(seen, all);
          const back: string[] = [];
          let before: typeof after;
          for (;;) {
            const page = await s.audit.query({ ...(before ? { before } : {}), order: 'desc', limit: 5 });
            back.push(...where(page));
            if (page.length < 5) break;
            const last = page.at(-1)!;
            before = { ts: (JSON.parse(last.body) as { ts: string }).ts, instance: last.instance, seq: last.seq };
          }
          assert.deepEqual(back, [...all].reverse());
        }));
      });

      describe('prune', () => {
        test('deletes each chain\'s records older than the cut and moves its anchor to the last deleted one; the rest verifies', withStore(async (s) => {
          const a = await s.audit.append('gw-a', Array.from({ length: 5 }, (_, i) => record(i)), sealAuditRecord);
          await s.audit.append('gw-b', Array.from({ length: 5 }, (_, i) => record(i + 2, { instance: 'gw-b' })), sealAuditRecord);
          assert.equal(await s.audit.prune(T0 + 3 * 60_000), 3 + 1);
          assert.deepEqual(await s.audit.anchor('gw-a'), { seq: 3, hash: a[2]!.hash });
          assert.equal((await s.audit.anchor('gw-b')).seq, 1);
          assert.deepEqual(seqs(await s.audit.scan('gw-a', 0, 10)), [4, 5]);
          const verified = await verifyAuditChains(s.audit);
          assert.equal(verified.ok, true, JSON.stringify(verified));
          assert.deepEqual(verified.chains.map((c) => (c.ok ? [c.instance, c.first] : [])), [['gw-a', 4], ['gw-b', 2]]);
        }));

        test('pruning everything keeps the head as anchor, and the next record continues the chain', withStore(async (s) => {
          const rows = await s.audit.append('gw-a', [record(0), record(1)], sealAuditRecord);
          assert.equal(await s.audit.prune(T0 + 3_600_000), 2);
          assert.deepEqual(await s.audit.head('gw-a'), { seq: 2, hash: rows[1]!.hash });
          assert.deepEqual((await s.audit.chains()).map((c) => c.instance), ['gw-a'], 'a chain with only an anchor is still listed');
          const next = await s.audit.append('gw-a', [record(2)], sealAuditRecord);
          assert.equal(next[0]!.seq, 3);
          assert.equal(next[0]!.prevHash, rows[1]!.hash);
          assert.equal((await verifyAuditChain(s.audit, 'gw-a')).ok, true);
        }));

        test('a record stamped by a skewed clock never makes prune delete newer records or leave a hole', withStore(async (s) => {
          await s.audit.append('gw-a', [record(0), record(10), record(1), record(11)], sealAuditRecord);
          assert.equal(await s.audit.prune(T0 + 5 * 60_000), 1, 'only the prefix before the first kept record');
          assert.deepEqual(seqs(await s.audit.scan('gw-a', 0, 10)), [2, 3, 4]);
          assert.equal((await verifyAuditChain(s.audit, 'gw-a')).ok, true);
        }));

        test('an empty store prunes nothing and keeps the genesis anchor', withStore(async (s) => {
          assert.equal(await s.audit.prune(T0), 0);
          assert.deepEqual(await s.audit.anchor('gw-a'), { seq: 0, hash: GENESIS_HASH });
          assert.deepEqual(await s.audit.chains(), []);
        }));
      });

      test('a record moved into another instance\'s chain does not verify', withStore(async (s) => {
        // Sealed as gw-b's record, but appended to gw-a's chain: its text names gw-b.
        await s.audit.append('gw-a', [record(0, { instance: 'gw-b' })], sealAuditRecord);
        const result = await verifyAuditChain(s.audit, 'gw-a');
        assert.equal(result.ok, false);
        assert.equal(!result.ok && result.problem.kind, 'reordered');
        // Control: the same record on its own chain verifies.
        await s.audit.append('gw-b', [record(0, { instance: 'gw-b' })], sealAuditRecord);
        assert.equal((await verifyAuditChain(s.audit, 'gw-b')).ok, true);
      }));
    });

    test('a closed store fails as unavailable', async () => {
      const s = await impl.open();
      const other = await impl.second(s);
      await other.close();
      await assert.rejects(other.audit.head('gw-a'), (e: unknown) => e instanceof StoreError && e.code === 'unavailable');
      await impl.cleanup(s);
    });
  });
}
