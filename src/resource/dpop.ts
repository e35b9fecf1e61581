import { createHash, createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { EmbeddedJWK, calculateJwkThumbprint, errors, jwtVerify, type JWK, type JWTPayload } from 'jose';
import { DPOP_ALGORITHMS, type DpopConfig } from '../config/index.js';
import { sameSecret } from '../shared/constant-time.js';
import { AuthenticationError } from './errors.js';
import { MemoryReplayCache, ReplayCacheFull, type ReplayCache } from '../store/replay-cache.js';
import { RedisUnavailableError } from '../store/redis/connection.js';

/**
 * DPoP (RFC 9449) at the resource: a DPoP-bound access token (`cnf.jkt`) is accepted only beside a fresh proof,
 * signed by the key it is bound to, for this method and this URL, with this token's hash, never seen before.
 * The proof is verified by jose with the key it embeds (asymmetric algorithms only); this module checks what
 * jose cannot know: the request it is for and the token it goes with. The access-token verifier calls
 * `confirm` once the token itself checked out, so that only a valid token can spend replay-cache room.
 */


/** A proof is a small JWT (a P-256 proof is ~600 bytes); a huge one is refused before any parsing. */
const MAX_PROOF_CHARS = 8_192;
/** RFC 9449 §11.1: a long jti would let a client fill memory; only its digest is stored, but the claim is bounded too. */
const MAX_JTI_CHARS = 256;
/** Imported proof keys remembered (one per client key in use). */
const KEY_CACHE_MAX = 1_024;
/** JWK members that only a private (or symmetric) key has. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** How the token came, and what came with it: read once from the request by the bearer authenticator. */
export interface Presentation {
  scheme: 'bearer' | 'dpop';
  /** Every `DPoP` header value, counted from the raw headers (Node would join two into one). */
  proofs: readonly string[];
  /** The HTTP method, upper case. */
  method: string;
  /** The public URL of the endpoint called (publicUrl + path): what `htu` must name. */
  url: string;
}

/** The `DPoP` headers of a request, each one separately. */
export function dpopHeaders(req: IncomingMessage): string[] {
  const proofs: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.length === 4 && req.rawHeaders[i]!.toLowerCase() === 'dpop') proofs.push(req.rawHeaders[i + 1]!);
  }
  return proofs;
}

/**
 * Server-provided nonces (RFC 9449 §9), stateless: an HMAC of the current minute under a secret every instance
 * derives from the store, so any instance accepts another's nonce. One is good for this minute and the two before.
 */
export class DpopNonces {
  private static readonly STEP_MS = 60_000;

  constructor(private readonly secret: () => Buffer, private readonly now: () => number = Date.now) {}

  current(): string {
    return this.at(Math.floor(this.now() / DpopNonces.STEP_MS));
  }

  accepts(nonce: string): boolean {
    const step = Math.floor(this.now() / DpopNonces.STEP_MS);
    let ok = false;
    // Every candidate is compared, so the time taken does not say which step matched.
    for (const s of [step, step - 1, step - 2]) ok = sameSecret(nonce, this.at(s)) || ok;
    return ok;
  }

  private at(step: number): string {
    return createHmac('sha256', this.secret()).update(`mcp-warden dpop-nonce ${step}`).digest('base64url');
  }
}

export interface DpopVerifierOptions {
  /** Defaults to an in-memory cache of `settings.replayCacheSize` entries. */
  replays?: ReplayCache;
  /** Present when `settings.nonce` is on. */
  nonces?: DpopNonces;
  now?: () => number;
}

export class DpopVerifier {
  readonly mode: DpopConfig['mode'];
  private readonly replays: ReplayCache;
  private readonly now: () => number;
  private readonly keys = new Map<string, Awaited<ReturnType<typeof EmbeddedJWK>>>();

  constructor(private readonly settings: DpopConfig, private readonly options: DpopVerifierOptions = {}) {
    if (settings.nonce && !options.nonces) throw new TypeError('DPoP nonces are on but no nonce source was given');
    this.mode = settings.mode;
    this.now = options.now ?? Date.now;
    // Several instances pass the shared one (Redis); one process keeps its own, bounded by replayCacheSize.
    this.replays = options.replays ?? new MemoryReplayCache(settings.replayCacheSize, this.now);
  }

  /**
   * After the access token verified: checks how it was presented against what it is bound to. Answers the
   * key thumbprint for a DPoP-bound token, undefined for a bearer token; throws an AuthenticationError otherwise.
   */
  async confirm(claims: JWTPayload, token: string, presentation: Presentation | undefined): Promise<string | undefined> {
    const how = presentation ?? { scheme: 'bearer' as const, proofs: [], method: '', url: '' };
    const jti = String(claims.jti);
    const jkt = (claims.cnf as { jkt?: unknown } | undefined)?.jkt;
    if (this.mode === 'off') {
      if (how.scheme === 'dpop') throw refuse('Unauthorized: DPoP is off at this gateway (auth.oauth.dpop); send Authorization: Bearer <token>', 'invalid_token', jti);
      if (jkt !== undefined) throw refuse('Unauthorized: DPoP-bound access tokens are not accepted here (auth.oauth.dpop is off)', 'invalid_token', jti);
      return undefined;
    }
    if (jkt !== undefined) {
      if (typeof jkt !== 'string' || jkt === '') throw refuse('Unauthorized: the access token names no usable key (cnf.jkt)', 'invalid_token', jti);
      if (how.scheme !== 'dpop') {
        throw refuse('Unauthorized: this access token is DPoP-bound; send it as Authorization: DPoP <token> with a DPoP proof, not as Bearer', 'invalid_token', jti, true);
      }
      await this.checkProof(how, token, jkt, jti);
      return jkt;
    }
    if (how.scheme === 'dpop') {
      throw refuse('Unauthorized: the access token is not DPoP-bound; send it as Authorization: Bearer, or send a DPoP proof to the token endpoint to get a bound one', 'invalid_token', jti);
    }
    if (this.mode === 'required') {
      throw refuse('Unauthorized: this gateway accepts only DPoP-bound access tokens (auth.oauth.dpop: required); send a DPoP proof to the token endpoint', 'invalid_token', jti, true);
    }
    return undefined;
  }

  /**
   * jose's EmbeddedJWK, remembered per algorithm and JWK: a client signs every proof with one key, and
   * importing it is most of a proof check's cost. Bounded; an entry is only made for a proof that names a
   * token that verified, and the same JWK text always imports to the same key.
   */
  private async keyOf(header: Parameters<typeof EmbeddedJWK>[0], jws: Parameters<typeof EmbeddedJWK>[1]) {
    const id = `${String(header?.alg)}\n${JSON.stringify(header?.jwk)}`;
    const known = this.keys.get(id);
    if (known) return known;
    const key = await EmbeddedJWK(header, jws);
    if (this.keys.size >= KEY_CACHE_MAX) this.keys.delete(this.keys.keys().next().value!);
    this.keys.set(id, key);
    return key;
  }

  /** RFC 9449 §4.3 and §7.1, in order; the jti is recorded last, so a proof refused for another reason can be fixed and sent. */
  private async checkProof(how: Presentation, token: string, jkt: string, jti: string): Promise<void> {
    if (how.proofs.length === 0) throw proofError('no DPoP proof; send one DPoP header with every request that carries this token', jti);
    if (how.proofs.length > 1) throw proofError('more than one DPoP header; send exactly one', jti);
    const proof = how.proofs[0]!;
    if (proof.length > MAX_PROOF_CHARS) throw proofError('the DPoP proof is too large', jti);

    let payload: JWTPayload;
    let jwk: JWK;
    try {
      const verified = await jwtVerify(proof, async (header, jws) => {
        const embedded = header.jwk as Record<string, unknown> | undefined;
        // jose refuses a private key too, but a clear reason is worth the check: the client leaked its key.
        if (embedded && typeof embedded === 'object' && PRIVATE_MEMBERS.some((m) => Object.hasOwn(embedded, m))) {
          throw new ProofProblem("the proof's jwk holds a private or symmetric key; embed the public key only");
        }
        return this.keyOf(header, jws);
      }, { typ: 'dpop+jwt', algorithms: [...DPOP_ALGORITHMS], requiredClaims: ['jti', 'htm', 'htu', 'iat'], currentDate: new Date(this.now()) });
      payload = verified.payload;
      jwk = verified.protectedHeader.jwk!;
    } catch (err) {
      throw proofError(reasonOf(err), jti);
    }

    if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > MAX_JTI_CHARS) throw proofError(`the proof's jti must be a string of 1 to ${MAX_JTI_CHARS} characters`, jti);
    if (payload.htm !== how.method) throw proofError(`the proof is for another HTTP method (htm); this request is ${how.method}`, jti);
    if (typeof payload.htu !== 'string' || normalUrl(payload.htu) !== normalUrl(how.url)) {
      throw proofError(`the proof is for another URL (htu); this endpoint is ${how.url}`, jti);
    }
    const iatMs = (payload.iat as number) * 1000;
    const skew = iatMs - this.now();
    if (skew > this.settings.proofWindow) throw proofError('the proof was made in the future (iat); check the client clock', jti);
    if (-skew > this.settings.proofWindow) throw proofError('the proof is too old (iat); make a new one for every request', jti);
    if (payload.ath !== createHash('sha256').update(token).digest('base64url')) throw proofError('the proof is for another access token (ath)', jti);
    if ((await calculateJwkThumbprint(jwk, 'sha256')) !== jkt) throw proofError('the proof is signed by another key than the one the token is bound to (cnf.jkt)', jti);

    const nonces = this.options.nonces;
    if (nonces && (typeof payload.nonce !== 'string' || !nonces.accepts(payload.nonce))) {
      const err = new AuthenticationError(
        `Unauthorized: ${payload.nonce === undefined ? 'this gateway requires' : 'the proof carries an expired or unknown'} DPoP nonce; make a new proof with the nonce in the DPoP-Nonce header`,
        'use_dpop_nonce', jti, 'oauth',
      );
      err.dpop = { nonce: nonces.current() };
      throw err;
    }

    // Keyed by the token's key as well: two clients that happen to pick one jti do not collide.
    const id = createHash('sha256').update(`${jkt}\n${payload.jti}`).digest('base64url');
    let replayed: boolean;
    try {
      replayed = await this.replays.seen(id, iatMs + this.settings.proofWindow);
    } catch (err) {
      if (err instanceof RedisUnavailableError) {
        throw AuthenticationError.unavailable('Service Unavailable: DPoP proofs cannot be checked for replay while the shared state (Redis) does not answer; retry in a moment', 'shared_state_unavailable');
      }
      if (!(err instanceof ReplayCacheFull)) throw err;
      throw AuthenticationError.unavailable('Service Unavailable: the gateway is tracking as many DPoP proofs as it can hold; retry in a moment', 'dpop_replay_cache_full');
    }
    if (replayed) throw proofError('this proof was used before (jti); make a new one for every request', jti);
  }
}

/** RFC 9449 §4.3 step 11 and RFC 3986 §6.2.2–6.2.3: scheme and host lower case, default port dropped, dot segments resolved; no query or fragment. */
export function normalUrl(value: string): string | undefined {
  // Not URL.parse: it came to Node 20 only in 20.18, and package.json allows 20.6.
  if (!URL.canParse(value)) return undefined;
  const url = new URL(value);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  url.search = '';
  url.hash = '';
  return url.href;
}

class ProofProblem extends Error {}

function reasonOf(err: unknown): string {
  if (err instanceof ProofProblem) return err.message;
  if (err instanceof errors.JOSEAlgNotAllowed) return `the proof's algorithm is not accepted; use one of ${DPOP_ALGORITHMS.join(', ')} (never none or HS*)`;
  if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'typ') return 'the proof must have typ: dpop+jwt';
  if (err instanceof errors.JWTClaimValidationFailed) return `the proof's ${err.claim} claim is missing or malformed`;
  if (err instanceof errors.JWTExpired) return 'the proof has expired (exp)';
  if (err instanceof errors.JWSSignatureVerificationFailed) return "the proof's signature does not verify with its jwk";
  if (err instanceof errors.JWSInvalid && /jwk/i.test(err.message)) return "the proof's jwk header is missing, malformed or not a public key";
  if (err instanceof errors.JOSEError || err instanceof TypeError) return 'the DPoP header is not a well-formed proof JWT';
  throw err;
}

function proofError(reason: string, tokenId: string): AuthenticationError {
  const err = new AuthenticationError(`Unauthorized: ${reason}`, 'invalid_dpop_proof', tokenId, 'oauth');
  err.dpop = {};
  return err;
}

/** `dpop`: the fix is DPoP, so the error goes in the DPoP challenge rather than the Bearer one. */
function refuse(message: string, error: 'invalid_token', tokenId: string, dpop = false): AuthenticationError {
  const err = new AuthenticationError(message, error, tokenId, 'oauth');
  if (dpop) err.dpop = {};
  return err;
}
