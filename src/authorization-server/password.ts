import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Passwords of the built-in user directory, hashed with scrypt (memory-hard, in Node without a dependency).
 * The stored form describes itself, `scrypt$N$r$p$<salt>$<hash>` (salt and hash base64url), so that the cost
 * can be raised later without breaking the hashes stored before: each is verified with its own parameters.
 *
 * Passwords are NFKC-normalized before hashing, so that the same password typed on keyboards that compose
 * characters differently (é as one code point or as e + combining accent) is the same password.
 */

const SCHEME = 'scrypt';
/** 2^15 × r 8: 32 MiB and about 0.1 s per hash, OWASP's recommended minimum for scrypt. */
const COST = 2 ** 15;
const BLOCK_SIZE = 8;
const PARALLELISM = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 1024;

/** What a stored hash may ask for: a hash outside these bounds is refused rather than allowed to exhaust memory or CPU. */
const LIMITS = { minCost: 2 ** 14, maxCost: 2 ** 20, maxBlockSize: 32, maxParallelism: 16, maxMemory: 256 * 1024 * 1024, minSalt: 16, keyBytes: [32, 64] };

interface Parsed {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

function derive(password: string, salt: Buffer, keyBytes: number, N: number, r: number, p: number): Promise<Buffer> {
  // scrypt needs 128·N·r bytes (plus a little); Node's default maxmem (32 MiB) is exactly 2^15·8·128, which is too tight.
  const options: ScryptOptions = { N, r, p, maxmem: 2 * 128 * N * r + 128 * r * p + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, keyBytes, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function format(N: number, r: number, p: number, salt: Buffer, hash: Buffer): string {
  return `${SCHEME}$${N}$${r}$${p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

const INTEGER = /^[1-9][0-9]{0,9}$/;
const B64URL = /^[A-Za-z0-9_-]+$/;

function parse(stored: string): Parsed | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== SCHEME) return undefined;
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  if (!INTEGER.test(n) || !INTEGER.test(r) || !INTEGER.test(p) || !B64URL.test(salt) || !B64URL.test(hash)) return undefined;
  const parsed = { N: Number(n), r: Number(r), p: Number(p), salt: Buffer.from(salt, 'base64url'), hash: Buffer.from(hash, 'base64url') };
  const powerOfTwo = (parsed.N & (parsed.N - 1)) === 0;
  if (!powerOfTwo || parsed.N < LIMITS.minCost || parsed.N > LIMITS.maxCost) return undefined;
  if (parsed.r > LIMITS.maxBlockSize || parsed.p > LIMITS.maxParallelism || 128 * parsed.N * parsed.r > LIMITS.maxMemory) return undefined;
  if (parsed.salt.length < LIMITS.minSalt || !LIMITS.keyBytes.includes(parsed.hash.length)) return undefined;
  return parsed;
}

/** A new salted hash of `password`, in the self-describing format. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, KEY_BYTES, COST, BLOCK_SIZE, PARALLELISM);
  return format(COST, BLOCK_SIZE, PARALLELISM, salt, hash);
}

/**
 * True when `password` is the one `stored` was made from, compared in constant time. A stored value in a
 * format this version does not know (or with parameters out of bounds) verifies nothing: false.
 */
export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  const parsed = parse(stored);
  if (!parsed) return false;
  const actual = await derive(password, parsed.salt, parsed.hash.length, parsed.N, parsed.r, parsed.p);
  return actual.length === parsed.hash.length && timingSafeEqual(actual, parsed.hash);
}

/** True when a hash was made with weaker (or other) parameters than new hashes get: rehash it at the next sign-in. */
export function needsRehash(stored: string): boolean {
  const parsed = parse(stored);
  return !parsed || parsed.N !== COST || parsed.r !== BLOCK_SIZE || parsed.p !== PARALLELISM || parsed.hash.length !== KEY_BYTES;
}

/**
 * A hash with the current parameters that no password matches (its "hash" is random bytes, not derived from
 * anything). Verifying against it costs what verifying a real password costs, so that a sign-in as a user who
 * does not exist takes as long as a wrong password, and timing does not tell which usernames exist.
 */
export const DUMMY_PASSWORD_HASH = format(COST, BLOCK_SIZE, PARALLELISM, randomBytes(SALT_BYTES), randomBytes(KEY_BYTES));

/** Spends the time of one password verification, for a user who does not exist. Always false. */
export async function verifyAgainstDummy(password: string): Promise<false> {
  await verifyPassword(DUMMY_PASSWORD_HASH, password);
  return false;
}

/** Why `password` may not be set, or undefined when it may. Length in characters (code points), after normalization. */
export function passwordProblem(password: string): string | undefined {
  const length = [...password.normalize('NFKC')].length;
  if (length < MIN_PASSWORD_LENGTH) return `the password is too short (${length} characters): use at least ${MIN_PASSWORD_LENGTH}`;
  if (length > MAX_PASSWORD_LENGTH) return `the password is too long (${length} characters): use at most ${MAX_PASSWORD_LENGTH}`;
  return undefined;
}
