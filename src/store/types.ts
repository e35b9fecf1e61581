/**
 * The storage contract. Everything above `store/` talks to these interfaces only, so that a PostgreSQL
 * implementation can replace SQLite without a change elsewhere: every method is async, times are epoch
 * milliseconds, lists are plain arrays, and no SQL, row ids or driver types leak out.
 */

/** One API key. The secret itself is never stored: only `hash` (see credentials/ for why SHA-256 suffices). */
export interface ApiKeyRecord {
  /** The public key id, also embedded in the key string; safe to log and show. */
  id: string;
  /** Hex SHA-256 of the whole key string. */
  hash: string;
  subject: string;
  tenant: string | null;
  name: string | null;
  scopes: string[];
  roles: string[];
  createdAt: number;
  /** After this the key is refused; rotation shortens it to the end of the grace period. */
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
  /** Set when the key was rotated: the id of the key that replaces it. */
  replacedBy: string | null;
}

export interface ApiKeyFilter {
  subject?: string;
  tenant?: string;
  /** Revoked keys and keys expired or rotated past their grace are left out unless this is true. */
  includeInactive?: boolean;
}

export interface ApiKeyStore {
  /** Fails with StoreError('conflict') when the id exists. */
  insert(key: ApiKeyRecord): Promise<void>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  /** Newest first. `now` decides which keys are inactive. */
  list(filter: ApiKeyFilter, now: number): Promise<ApiKeyRecord[]>;
  /** Sets revokedAt unless it is set already; false when there is no such key. */
  revoke(id: string, at: number): Promise<boolean>;
  /**
   * In one transaction: inserts `replacement`, and marks `oldId` as replaced by it with its expiry cut to
   * `oldExpiresAt`. False (and no change) when `oldId` does not exist, is revoked, or was rotated already.
   */
  rotate(oldId: string, replacement: ApiKeyRecord, oldExpiresAt: number): Promise<boolean>;
  /** Records use; callers throttle it, since it is a write. */
  touch(id: string, at: number): Promise<void>;
}

/** A key the gateway signs with (identity JWTs for upstreams now; the OAuth AS later), as JWKs. */
export interface SigningKeyRecord {
  kid: string;
  /** What the key signs, e.g. 'upstream-identity'. */
  use: string;
  alg: string;
  /** JSON of the private JWK (kept in the store file, which is 0600). */
  privateJwk: string;
  publicJwk: string;
  createdAt: number;
  /** No longer signs after this; stays published until then plus the longest token lifetime. */
  retiredAt: number | null;
}

export interface SigningKeyStore {
  insert(key: SigningKeyRecord): Promise<void>;
  /**
   * Inserts `key` unless a key of the same use signs at `now` (not retired, or retired later), atomically:
   * of N instances starting at once on an empty store, one creates the key. True when this call inserted it.
   */
  insertIfNoneActive(key: SigningKeyRecord, now: number): Promise<boolean>;
  /** Keys of this use that are not retired, or were retired after `publishedSince`: newest first. */
  list(use: string, publishedSince: number): Promise<SigningKeyRecord[]>;
  retire(kid: string, at: number): Promise<boolean>;
}

/**
 * One row of a tamper-evident audit chain, exactly as stored: `body` is the text that was hashed, so that
 * verification checks what is on disk, not a re-serialization of it. Each writing instance has a chain of
 * its own: a row is identified by (instance, seq), and seq counts within its instance's chain.
 */
export interface AuditRow {
  /** The chain: the instance that wrote the row (LEGACY_AUDIT_CHAIN for rows written before chains were per instance). */
  instance: string;
  seq: number;
  prevHash: string;
  hash: string;
  body: string;
}

/**
 * The chain that holds the rows of a store written before chains were per instance (one chain, whoever
 * wrote): they keep their links, so they stay one chain, and verify as one. No configured instance can be
 * named so (audit.instance is at least one character).
 */
export const LEGACY_AUDIT_CHAIN = '';

/** Seals one record into the chain: its stored text and hash, given its seq and the previous record's hash. */
export type AuditSeal = (seq: number, prevHash: string, record: unknown) => { body: string; hash: string };

/** Where the chain starts: the genesis, or the last record pruned by retention. */
export interface AuditAnchor {
  seq: number;
  hash: string;
}

/** Where a row stands in the merged order of every chain: by time, then instance, then seq. */
export interface AuditPosition {
  /** The record's ts (ISO-8601 UTC text, whose text order is its time order). */
  ts: string;
  instance: string;
  seq: number;
}

export interface AuditQuery {
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
  subject?: string;
  /** The target name (tool, resource URI, prompt), exact. */
  target?: string;
  decision?: 'allow' | 'deny';
  event?: string;
  /** One chain only. */
  instance?: string;
  /** Only rows after this position in the merged order (paging forward). */
  after?: AuditPosition;
  /** Only rows before this position in the merged order (paging back). */
  before?: AuditPosition;
  /** The upstream a call went to, exact. */
  upstream?: string;
  /** Newest first when 'desc' (default 'asc'). */
  order?: 'asc' | 'desc';
  limit?: number;
}

/** One chain, as `chains()` lists it. */
export interface AuditChainInfo {
  instance: string;
  anchor: AuditAnchor;
  head: AuditAnchor;
}

export interface AuditStore {
  /**
   * Appends `records` to `instance`'s chain in one transaction, each sealed after the newest record of that
   * chain (whoever wrote it: a restarted instance, or the CLI with the same instance id, continues it).
   * Appends to different chains do not wait for each other. Resolves once committed, with the rows as stored.
   */
  append(instance: string, records: readonly unknown[], seal: AuditSeal): Promise<AuditRow[]>;
  /** Rows of every chain matching the query, merged by (ts, instance, seq). */
  query(query: AuditQuery): Promise<AuditRow[]>;
  /** Up to `limit` rows of `instance`'s chain with seq > afterSeq, in seq order: for verify and export, page by page. */
  scan(instance: string, afterSeq: number, limit: number): Promise<AuditRow[]>;
  /** Every chain that has rows or an anchor, by instance. */
  chains(): Promise<AuditChainInfo[]>;
  /** The anchor the first stored row of `instance`'s chain must follow. */
  anchor(instance: string): Promise<AuditAnchor>;
  /** The newest row's seq and hash in `instance`'s chain, or its anchor when it has no rows. */
  head(instance: string): Promise<AuditAnchor>;
  /**
   * Deletes rows older than `before` (epoch ms) from every chain, and moves each chain's anchor to the last
   * row deleted from it, in one transaction; returns how many.
   */
  prune(before: number): Promise<number>;
}

/**
 * One instance of an `oidc-provider` model (Client, Grant, Session, Interaction, AuthorizationCode,
 * RefreshToken, DeviceCode, ...), as its storage adapter hands it over: an opaque JSON payload plus the
 * fields the provider looks things up by.
 */
export interface OAuthModelRecord {
  model: string;
  id: string;
  /** JSON of the provider's payload. */
  payload: string;
  grantId: string | null;
  userCode: string | null;
  uid: string | null;
  /** Epoch ms; null for models that do not expire (registered clients). */
  expiresAt: number | null;
  consumedAt: number | null;
}

export interface OAuthModelFilter {
  model: string;
  /** Matches the payload's accountId (the user). */
  accountId?: string;
  /** Matches the payload's clientId. */
  clientId?: string;
  grantId?: string;
}

export interface OAuthModelStore {
  upsert(record: OAuthModelRecord): Promise<void>;
  /** Expired records are not returned. */
  find(model: string, id: string, now: number): Promise<OAuthModelRecord | undefined>;
  findByUid(model: string, uid: string, now: number): Promise<OAuthModelRecord | undefined>;
  findByUserCode(model: string, userCode: string, now: number): Promise<OAuthModelRecord | undefined>;
  /** Sets consumedAt unless it is set already (the first consumption is what a reuse interval counts from). */
  consume(model: string, id: string, at: number): Promise<void>;
  destroy(model: string, id: string): Promise<void>;
  /** Deletes every record of `model` that belongs to the grant; returns how many. */
  revokeByGrantId(model: string, grantId: string): Promise<number>;
  /** Unexpired records matching the filter, newest first. */
  list(filter: OAuthModelFilter, now: number): Promise<OAuthModelRecord[]>;
  /** Deletes expired records; returns how many. */
  purgeExpired(now: number): Promise<number>;
}

/** What a revocation entry names: every token of a grant, a user, a client, or one token by its jti. */
export type RevocationKind = 'grant' | 'user' | 'client' | 'jti';

export interface RevocationEntry {
  kind: RevocationKind;
  value: string;
}

/**
 * The revocation list: self-contained access tokens (JWTs) stay valid by signature until they expire, so a
 * revoked grant, user, client or token is listed here until every token it covers has expired.
 */
export interface RevocationStore {
  /** Lists the entry (or moves its revokedAt and expiresAt later). */
  add(entry: RevocationEntry, revokedAt: number, expiresAt: number): Promise<void>;
  /** True when any of `entries` was revoked at or after `issuedAt` (epoch ms) and is still listed. */
  anyRevoked(entries: readonly RevocationEntry[], issuedAt: number): Promise<boolean>;
  /** Drops entries past their expiry; returns how many. */
  purgeExpired(now: number): Promise<number>;
}

/** A user of the built-in directory. The password is stored as a self-describing hash only. */
export interface UserRecord {
  username: string;
  passwordHash: string;
  roles: string[];
  tenant: string | null;
  displayName: string | null;
  createdAt: number;
  disabledAt: number | null;
  passwordChangedAt: number;
  /** Consecutive failed sign-ins since the last success. */
  failedLogins: number;
  lockedUntil: number | null;
}

export interface UserStore {
  /** Fails with StoreError('conflict') when the username exists. */
  insert(user: UserRecord): Promise<void>;
  get(username: string): Promise<UserRecord | undefined>;
  /** By username. */
  list(): Promise<UserRecord[]>;
  /** Applies the given fields; false when there is no such user. */
  update(username: string, patch: Partial<Omit<UserRecord, 'username' | 'createdAt'>>): Promise<boolean>;
  /**
   * Counts a failed sign-in in one transaction; when it reaches `lockAfter`, locks the user until
   * `at + lockFor` and starts counting again. Returns the user after the change, or undefined.
   */
  recordFailedLogin(username: string, at: number, lockAfter: number, lockFor: number): Promise<UserRecord | undefined>;
}

/** Tells caches that shared state changed somewhere. In one process: a counter. Across instances: Redis. */
export interface ChangeFeed {
  /** Differs from the previous value whenever a cached table may have changed on any instance. Cheap (no I/O). */
  version(): number;
  /** This instance changed a cached table; tells the others (best effort, async). */
  changed(): void;
  /**
   * True when the feed hears other instances' changes (Redis). A store caches reads only behind such a feed,
   * or behind one of its own that sees every writer (SQLite's data_version).
   */
  readonly shared?: boolean;
}

export interface Store {
  /** For messages, e.g. the SQLite file path. Never a connection string with a password. */
  readonly location: string;
  readonly apiKeys: ApiKeyStore;
  readonly signingKeys: SigningKeyStore;
  readonly audit: AuditStore;
  readonly oauth: OAuthModelStore;
  readonly revocations: RevocationStore;
  readonly users: UserStore;
  /** Resolves when the store answers; rejects with StoreError('unavailable') when not (for /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export type StoreErrorCode = 'conflict' | 'unavailable' | 'schema_too_new' | 'schema_too_old' | 'corrupt' | 'not_a_store' | 'not_empty';

export class StoreError extends Error {
  constructor(readonly code: StoreErrorCode, message: string) {
    super(message);
    this.name = 'StoreError';
  }
}
