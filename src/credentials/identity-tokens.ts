import { randomUUID } from 'node:crypto';
import { SignJWT, importJWK, type CryptoKey } from 'jose';
import type { Principal } from '../shared/principal.js';
import { StoreError, type SigningKeyRecord, type SigningKeyStore } from '../store/types.js';
import { generateSigningKey, parseJwk, publicJwkOf } from './signing-keys.js';

/**
 * How an upstream learns who is calling without ever seeing the caller's credential (no token passthrough):
 * HTTP upstreams get a short-lived JWT that the gateway signs for that upstream alone; stdio children get the
 * same claims in `params._meta`. docs/identity.md is the upstream author's side of this contract.
 */

export const IDENTITY_KEY_USE = 'upstream-identity';
/** Explicit typing (RFC 8725 §3.11), so that an identity JWT is never mistaken for an access token. */
export const IDENTITY_JWT_TYPE = 'warden-identity+jwt';
/** Namespaced so that it cannot collide with MCP's own `_meta` keys or another tool's. */
export const IDENTITY_META_KEY = 'dev.mcp-warden/principal';

/**
 * How long a retired key stays in the JWKS: the longest `identity.ttl` the config allows, so that every token
 * the key signed before retirement can still be verified until it expires.
 */
export const PUBLICATION_WINDOW_MS = 3_600_000;
/** Re-read the store this often (lazily, from sign() and jwks()), to follow keys other processes created or retired. */
const RELOAD_INTERVAL_MS = 60_000;
/** Past this share of its lifetime a cached token is replaced, so that upstreams never get one about to expire. */
const REUSE_SHARE = 0.8;
const CACHE_MAX = 1024;

/** The claims about a principal that both carriers share (JWT payload minus iss/aud/iat/exp/jti, and the _meta value). */
export interface PrincipalClaims {
  sub: string;
  /** Who vouched for `sub` when it was not the gateway itself: a company IdP's issuer (the JWT's own `iss` is the gateway). */
  sub_iss?: string;
  tenant?: string;
  client_id?: string;
  /** Space-separated, as in RFC 8693 and OAuth. */
  scope: string;
  roles: string[];
  /** Which credential authenticated the caller: its kind and public id, never a secret. */
  cred: { kind: string; id: string };
  /** Delegation (RFC 8693 `act`): who acts on behalf of `sub`, nested for a chain. */
  act?: { sub: string; [k: string]: unknown };
}

/** Built field by field in a fixed order: the JSON doubles as the token cache key. */
export function principalClaims(principal: Principal): PrincipalClaims {
  return {
    sub: principal.subject,
    ...(principal.issuer !== undefined && { sub_iss: principal.issuer }),
    ...(principal.tenant !== undefined && { tenant: principal.tenant }),
    ...(principal.clientId !== undefined && { client_id: principal.clientId }),
    scope: principal.scopes.join(' '),
    roles: [...principal.roles],
    cred: { kind: principal.credential.kind, id: principal.credential.id },
    ...(principal.actor && { act: actorClaim(principal.actor) }),
  };
}

/** RFC 8693 §4.1: `act` holds identity claims only (not scopes or roles), with a nested `act` for a chain. */
function actorClaim(actor: Principal): { sub: string; [k: string]: unknown } {
  const act: { sub: string; [k: string]: unknown } = { sub: actor.subject };
  if (actor.issuer !== undefined) act.iss = actor.issuer;
  if (actor.tenant !== undefined) act.tenant = actor.tenant;
  if (actor.clientId !== undefined) act.client_id = actor.clientId;
  if (actor.actor) act.act = actorClaim(actor.actor);
  return act;
}

export interface IdentityTokenSignerOptions {
  /** The JWT `iss`: the gateway's base URL. */
  issuer: string;
  /** Epoch milliseconds; tests move it by hand. */
  now?: () => number;
}

interface LoadedKey {
  record: SigningKeyRecord;
  /** Public members plus kid, alg and use, ready for the JWKS. */
  publicJwk: Record<string, unknown>;
}

interface CachedToken {
  token: string;
  /** Epoch ms after which the token is no longer handed out. */
  reuseUntil: number;
}

export class IdentityTokenSigner {
  private keys: LoadedKey[] = [];
  private signing: { kid: string; alg: string; key: CryptoKey; retiredAt: number | null } | undefined;
  private loadedAt = 0;
  private reloading: Promise<void> | undefined;
  private readonly cache = new Map<string, CachedToken>();
  private readonly now: () => number;

  private constructor(private readonly store: SigningKeyStore, private readonly issuer: string, now: (() => number) | undefined) {
    this.now = now ?? Date.now;
  }

  /**
   * Loads the newest non-retired signing key of IDENTITY_KEY_USE from the store, or generates and stores one.
   * Two processes opening the same store at once may each create a key; both are then published and the
   * newest signs, which is harmless.
   */
  static async open(store: SigningKeyStore, options: IdentityTokenSignerOptions): Promise<IdentityTokenSigner> {
    if (!options.issuer) throw new RangeError('IdentityTokenSigner needs an issuer (the gateway base URL)');
    const signer = new IdentityTokenSigner(store, options.issuer, options.now);
    await signer.reload();
    return signer;
  }

  /**
   * Re-reads the keys from the store: picks up keys created or retired by another process (e.g. a rotation
   * in the store), and creates a key when every key is retired. sign() and jwks() start it on their own once
   * the keys are a minute old; call it directly to apply a rotation at once.
   */
  async reload(): Promise<void> {
    // One reload at a time: concurrent callers share it rather than each creating a key.
    this.reloading ??= this.load().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private async load(): Promise<void> {
    let records = await this.store.list(IDENTITY_KEY_USE, this.now() - PUBLICATION_WINDOW_MS);
    if (!records.some((r) => signs(r, this.now()))) {
      // Only if no other process created one meanwhile (several instances starting at once create one key).
      await this.store.insertIfNoneActive(await generateSigningKey(IDENTITY_KEY_USE, this.now()), this.now());
      // Listed again rather than using our own record: another process's key may be the one that got in.
      records = await this.store.list(IDENTITY_KEY_USE, this.now() - PUBLICATION_WINDOW_MS);
    }
    const active = records.find((r) => signs(r, this.now()));
    if (!active) throw new StoreError('unavailable', `no ${IDENTITY_KEY_USE} signing key could be created in the store`);
    const keys = records.map(toLoadedKey);
    if (this.signing?.kid !== active.kid) {
      this.signing = { kid: active.kid, alg: active.alg, key: await importPrivate(active), retiredAt: active.retiredAt };
      // Tokens already issued stay valid (the old key is still published); new ones should use the new key.
      this.cache.clear();
    } else {
      this.signing.retiredAt = active.retiredAt;
    }
    this.keys = keys;
    this.loadedAt = this.now();
  }

  /**
   * A JWT for `audience` about `principal`, valid for `ttlMs`. A cached token for the same audience, lifetime
   * and claims is reused until 80% of its lifetime has passed, so signing is not paid on every request.
   */
  async sign(principal: Principal, audience: string, ttlMs: number): Promise<string> {
    if (!audience) throw new RangeError('an identity token needs an audience');
    if (!Number.isFinite(ttlMs) || ttlMs < 1_000) throw new RangeError(`identity token lifetime must be at least 1s, got ${ttlMs} ms`);
    this.reloadIfStale();
    const claims = principalClaims(principal);
    const cacheKey = JSON.stringify([audience, ttlMs, claims]);
    const now = this.now();
    // A retirement scheduled for a time that has now come: never sign with that key, even once more.
    if (!signs(this.signing!, now)) await this.reload();
    const hit = this.cache.get(cacheKey);
    if (hit && now < hit.reuseUntil) return hit.token;

    const signing = this.signing!;
    // JWT times are whole seconds; both the expiry and the reuse deadline count from the rounded-down iat,
    // so a reused token always has at least 20% of its lifetime left.
    const iat = Math.floor(now / 1000);
    const ttlSeconds = Math.ceil(ttlMs / 1000);
    const token = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: signing.alg, kid: signing.kid, typ: IDENTITY_JWT_TYPE })
      .setIssuer(this.issuer)
      .setAudience(audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttlSeconds)
      .setJti(randomUUID())
      .sign(signing.key);

    this.cache.delete(cacheKey);
    if (this.cache.size >= CACHE_MAX) this.evict(now);
    this.cache.set(cacheKey, { token, reuseUntil: (iat + ttlSeconds * REUSE_SHARE) * 1000 });
    return token;
  }

  /** Drops stale tokens, and the oldest entry if all are fresh (Map order is insertion order). */
  private evict(now: number): void {
    for (const [key, entry] of this.cache) if (now >= entry.reuseUntil) this.cache.delete(key);
    if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
  }

  /**
   * The public JWKS to publish at /.well-known/jwks.json: every key of this use that is not retired, or was
   * retired so recently that tokens it signed may still be live. Public members only.
   */
  jwks(): { keys: Record<string, unknown>[] } {
    this.reloadIfStale();
    const now = this.now();
    const since = now - PUBLICATION_WINDOW_MS;
    return { keys: this.keys.filter((k) => k.record.retiredAt === null || k.record.retiredAt > since).map((k) => ({ ...k.publicJwk })) };
  }

  /**
   * Starts a reload in the background when the keys are older than the interval. The caller goes on with the
   * keys known now (the next call sees the reloaded ones); a failed reload keeps them, which is safer than
   * signing with nothing or publishing nothing, and is retried after the next interval.
   */
  private reloadIfStale(): void {
    if (this.now() - this.loadedAt < RELOAD_INTERVAL_MS) return;
    this.loadedAt = this.now();
    this.reload().catch(() => {});
  }

  /** The kid that signs new tokens (for logs and tests). */
  get currentKid(): string {
    return this.signing!.kid;
  }
}

/** A key signs until its retirement time, which may have been set in advance. */
function signs(key: { retiredAt: number | null }, now: number): boolean {
  return key.retiredAt === null || key.retiredAt > now;
}

function toLoadedKey(record: SigningKeyRecord): LoadedKey {
  return { record, publicJwk: publicJwkOf(record) };
}

async function importPrivate(record: SigningKeyRecord): Promise<CryptoKey> {
  try {
    const jwk = parseJwk(record, record.privateJwk);
    if (jwk.d === undefined) throw new StoreError('corrupt', `signing key ${record.kid} in the store has no private part`);
    return (await importJWK(jwk, record.alg)) as CryptoKey;
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreError('corrupt', `signing key ${record.kid} in the store cannot be used: ${(err as Error).message}`);
  }
}
