import { timingSafeEqual } from 'node:crypto';
import { StoreError, type ApiKeyFilter, type ApiKeyRecord, type ApiKeyStore } from '../store/types.js';
import { generateApiKey, hashApiKey, parseApiKey } from './api-key-format.js';
import { CredentialError } from './errors.js';
import { CONTROL_CHARACTERS } from '../shared/text.js';
import { CERTIFICATE_SUBJECT_PREFIX } from '../shared/principal.js';

export interface NewApiKey {
  subject: string;
  tenant?: string;
  name?: string;
  scopes?: string[];
  roles?: string[];
  /** Epoch ms; null or absent: the key does not expire. */
  expiresAt?: number | null;
}

export type ApiKeyStatus = 'active' | 'grace' | 'expired' | 'revoked' | 'rotated';

/** A key as shown to operators: everything but the hash. */
export type ApiKeyView = Omit<ApiKeyRecord, 'hash'> & { status: ApiKeyStatus };

export interface ApiKeysOptions {
  now?: () => number;
  /** Last use is written at most this often per key (default 60 s): it is a disk write on the request path. */
  touchIntervalMs?: number;
  /** Called when recording last use fails; verify itself never fails for that. */
  onTouchError?: (err: unknown, keyId: string) => void;
}

/** The largest time a JS Date can hold; later expiries could not be shown. */
const MAX_TIME = 8.64e15;
const MAX_TEXT = 256;
/** Keys remembered for throttling last-use writes; beyond this the oldest are forgotten (costing one extra write). */
const MAX_TOUCH_ENTRIES = 10_000;
const GENERATE_ATTEMPTS = 3;

export function apiKeyStatus(record: ApiKeyRecord, now: number): ApiKeyStatus {
  if (record.revokedAt !== null) return 'revoked';
  if (record.replacedBy !== null) return record.expiresAt === null || now < record.expiresAt ? 'grace' : 'rotated';
  if (record.expiresAt !== null && record.expiresAt <= now) return 'expired';
  return 'active';
}

export function toApiKeyView(record: ApiKeyRecord, now: number): ApiKeyView {
  const { hash: _hash, ...rest } = record;
  return { ...rest, status: apiKeyStatus(record, now) };
}

/** Creating, checking, rotating and revoking API keys, over any ApiKeyStore. */
export class ApiKeys {
  private readonly now: () => number;
  private readonly touchIntervalMs: number;
  private readonly onTouchError: (err: unknown, keyId: string) => void;
  /** Key id → when this process last wrote its last use. */
  private readonly touched = new Map<string, number>();

  constructor(private readonly store: ApiKeyStore, options: ApiKeysOptions = {}) {
    this.now = options.now ?? Date.now;
    this.touchIntervalMs = options.touchIntervalMs ?? 60_000;
    this.onTouchError = options.onTouchError ?? (() => {});
  }

  /** The key text is in the result only: it is not kept anywhere, so the caller shows it once. */
  async create(input: NewApiKey): Promise<{ key: string; view: ApiKeyView }> {
    const now = this.now();
    const fields = validateNewKey(input, now);
    const { key, record } = await this.withFreshKey((id, hash) => ({ id, hash, ...fields, createdAt: now, lastUsedAt: null, revokedAt: null, replacedBy: null }),
      (record) => this.store.insert(record));
    return { key, view: toApiKeyView(record, now) };
  }

  /**
   * The key's record when the key may be used, else a CredentialError. A key's status (revoked, expired, ...)
   * is told only to someone who showed the whole key: an unknown id and a wrong secret get the same answer,
   * so that ids, which are public, do not let anyone probe which keys exist.
   */
  async verify(key: string): Promise<ApiKeyRecord> {
    const { id } = parseApiKey(key);
    const hash = hashApiKey(key);
    const record = await this.store.get(id);
    if (!record || !sameHash(record.hash, hash)) {
      throw new CredentialError('unknown', 'unknown API key: check that the whole key was sent, or ask for a new one', id);
    }
    const now = this.now();
    switch (apiKeyStatus(record, now)) {
      case 'revoked':
        throw new CredentialError('revoked', `API key ${id} was revoked; ask for a new key`, id);
      case 'rotated':
        throw new CredentialError('rotated', `API key ${id} was replaced by a newer key and its grace period is over; use the new key`, id);
      case 'expired':
        throw new CredentialError('expired', `API key ${id} expired at ${new Date(record.expiresAt!).toISOString()}; ask for a new key`, id);
      default:
        break;
    }
    this.recordUse(record, now);
    return record;
  }

  async get(id: string): Promise<ApiKeyView | undefined> {
    const record = await this.store.get(id);
    return record && toApiKeyView(record, this.now());
  }

  async list(filter: ApiKeyFilter): Promise<ApiKeyView[]> {
    const now = this.now();
    return (await this.store.list(filter, now)).map((r) => toApiKeyView(r, now));
  }

  /**
   * Replaces a key with a new one of the same grants and expiry; the old key keeps working for `graceMs` (never
   * past its own expiry), so that clients can switch over without an outage. 0 ends the old key at once.
   */
  /**
   * A new key with the old one's grants. It keeps the old key's expiry unless `expiresInMs` gives the new key
   * a lifetime of its own (how a key that never expires is rotated into one that does).
   */
  async rotate(id: string, graceMs: number, expiresInMs?: number): Promise<{ key: string; view: ApiKeyView; previous: ApiKeyView }> {
    if (!Number.isSafeInteger(graceMs) || graceMs < 0) {
      throw new CredentialError('invalid_input', 'the grace period must be a whole number of milliseconds, 0 or more', id);
    }
    if (expiresInMs !== undefined && (!Number.isSafeInteger(expiresInMs) || expiresInMs <= 0)) {
      throw new CredentialError('invalid_input', 'the new key\'s lifetime must be a whole number of milliseconds, more than 0', id);
    }
    const now = this.now();
    const old = await this.store.get(id);
    assertRotatable(id, old, now);
    const oldExpiresAt = Math.min(old.expiresAt ?? MAX_TIME, now + graceMs, MAX_TIME);
    let rotated = false;
    const { key, record } = await this.withFreshKey(
      (newId, hash) => ({
        id: newId, hash, subject: old.subject, tenant: old.tenant, name: old.name, scopes: [...old.scopes], roles: [...old.roles],
        createdAt: now, expiresAt: expiresInMs === undefined ? old.expiresAt : Math.min(now + expiresInMs, MAX_TIME), lastUsedAt: null, revokedAt: null, replacedBy: null,
      }),
      async (record) => { rotated = await this.store.rotate(id, record, oldExpiresAt); },
    );
    // Revoked or rotated by someone else between the read and the transaction: nothing was written.
    if (!rotated) assertRotatable(id, await this.store.get(id), now);
    const previous = await this.store.get(id);
    if (!rotated || !previous) throw new CredentialError('invalid_input', `API key ${id} changed while it was being rotated; try again`, id);
    return { key, view: toApiKeyView(record, now), previous: toApiKeyView(previous, now) };
  }

  /** Takes effect at the next request, in every process that reads the store. Revoking twice is harmless. */
  async revoke(id: string): Promise<ApiKeyView> {
    const now = this.now();
    if (!(await this.store.revoke(id, now))) throw notFound(id);
    const record = await this.store.get(id);
    if (!record) throw notFound(id);
    return toApiKeyView(record, now);
  }

  /** Ids are random, so a clash is all but impossible; when one happens anyway, a new key is drawn. */
  private async withFreshKey(
    build: (id: string, hash: string) => ApiKeyRecord,
    write: (record: ApiKeyRecord) => Promise<void>,
  ): Promise<{ key: string; record: ApiKeyRecord }> {
    for (let attempt = 1; ; attempt++) {
      const { id, key } = generateApiKey();
      const record = build(id, hashApiKey(key));
      try {
        await write(record);
        return { key, record };
      } catch (err) {
        if (!(err instanceof StoreError && err.code === 'conflict') || attempt >= GENERATE_ATTEMPTS) throw err;
      }
    }
  }

  /**
   * Writes last use at most once per interval per key, after the answer is on its way: it is bookkeeping, so
   * a slow or failing write (a busy or full disk) must neither delay nor refuse a request with a good key.
   */
  private recordUse(record: ApiKeyRecord, now: number): void {
    const last = Math.max(this.touched.get(record.id) ?? -Infinity, record.lastUsedAt ?? -Infinity);
    if (now - last < this.touchIntervalMs) return;
    this.touched.delete(record.id);
    this.touched.set(record.id, now);
    if (this.touched.size > MAX_TOUCH_ENTRIES) this.touched.delete(this.touched.keys().next().value!);
    const id = record.id;
    setImmediate(() => {
      Promise.resolve()
        .then(() => this.store.touch(id, now))
        .catch((err: unknown) => this.onTouchError(err, id));
    }).unref();
  }
}

function validateNewKey(input: NewApiKey, now: number): Pick<ApiKeyRecord, 'subject' | 'tenant' | 'name' | 'scopes' | 'roles' | 'expiresAt'> {
  const subject = checkText('subject', input.subject);
  if (subject === null) throw new CredentialError('invalid_input', 'an API key needs a subject: who uses it, e.g. a user or service name');
  if (subject.startsWith(CERTIFICATE_SUBJECT_PREFIX)) {
    throw new CredentialError('invalid_input', `subjects starting with '${CERTIFICATE_SUBJECT_PREFIX}' name client certificates; name the user or service without it`);
  }
  const expiresAt = input.expiresAt ?? null;
  if (expiresAt !== null && (!Number.isSafeInteger(expiresAt) || expiresAt <= now || expiresAt > MAX_TIME)) {
    throw new CredentialError('invalid_input', 'the expiry must be a time in the future (epoch milliseconds); omit it for a key that does not expire');
  }
  return {
    subject,
    tenant: checkText('tenant', input.tenant),
    name: checkText('name', input.name),
    scopes: checkList('scope', input.scopes),
    roles: checkList('role', input.roles),
    expiresAt,
  };
}

function checkText(field: string, value: string | undefined): string | null {
  if (value === undefined) return null;
  if (typeof value !== 'string' || value.length === 0) throw new CredentialError('invalid_input', `the ${field} must not be empty; leave it out instead`);
  if (value.length > MAX_TEXT) throw new CredentialError('invalid_input', `the ${field} is longer than ${MAX_TEXT} characters; shorten it`);
  if (CONTROL_CHARACTERS.test(value)) throw new CredentialError('invalid_input', `the ${field} contains control characters (such as a newline); remove them`);
  return value;
}

function checkList(what: string, values: string[] | undefined): string[] {
  const out: string[] = [];
  for (const v of values ?? []) {
    const text = checkText(what, v)!;
    if (!out.includes(text)) out.push(text);
  }
  return out;
}

function sameHash(storedHex: string, computedHex: string): boolean {
  const stored = Buffer.from(storedHex, 'hex');
  const computed = Buffer.from(computedHex, 'hex');
  return stored.length === computed.length && timingSafeEqual(stored, computed);
}

function notFound(id: string): CredentialError {
  return new CredentialError('not_found', `no API key with id ${id}`, id);
}

function assertRotatable(id: string, record: ApiKeyRecord | undefined, now: number): asserts record is ApiKeyRecord {
  if (!record) throw notFound(id);
  switch (apiKeyStatus(record, now)) {
    case 'revoked':
      throw new CredentialError('invalid_input', `API key ${id} is revoked and cannot be rotated; create a new key instead`, id);
    case 'grace':
    case 'rotated':
      throw new CredentialError('invalid_input', `API key ${id} was rotated already (replaced by ${record.replacedBy}); rotate that key instead`, id);
    case 'expired':
      throw new CredentialError('invalid_input', `API key ${id} has expired and cannot be rotated; create a new key instead`, id);
    default:
  }
}
