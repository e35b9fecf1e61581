import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { CredentialError } from './errors.js';

/**
 * `wdn_` + id (12) + secret (43) + checksum (6), all base62: 65 characters that a double click selects whole,
 * that need no escaping anywhere, and that secret scanners can match exactly with `wdn_[0-9A-Za-z]{61}`.
 */
export const API_KEY_PREFIX = 'wdn_';
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const ID_LENGTH = 12;
/** 43 base62 characters carry 43 · log2(62) ≈ 256.03 bits. */
const SECRET_LENGTH = 43;
/** 62^6 > 2^32, so a uint32 always fits. */
const CHECKSUM_LENGTH = 6;
export const API_KEY_LENGTH = API_KEY_PREFIX.length + ID_LENGTH + SECRET_LENGTH + CHECKSUM_LENGTH;
export const API_KEY_PATTERN = /^wdn_[0-9A-Za-z]{61}$/;
export const API_KEY_ID_PATTERN = /^[0-9A-Za-z]{12}$/;

const EXPECTED_SHAPE = `expected ${API_KEY_PREFIX} followed by ${API_KEY_LENGTH - API_KEY_PREFIX.length} letters and digits (${API_KEY_LENGTH} characters in all)`;

/** Uniform base62: bytes ≥ 248 (= 4 · 62) are dropped, since `byte % 62` over 0..255 would favour 0..7. */
function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length + 8)) {
      if (byte >= 248) continue;
      out += ALPHABET[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

function checksum(body: string): string {
  let n = createHash('sha256').update(body).digest().readUInt32BE(0);
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = ALPHABET[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

export function generateApiKey(): { id: string; key: string } {
  const id = randomBase62(ID_LENGTH);
  const body = `${API_KEY_PREFIX}${id}${randomBase62(SECRET_LENGTH)}`;
  return { id, key: `${body}${checksum(body)}` };
}

/**
 * Checks the shape and the checksum, so that a truncated or mistyped key is refused with a useful message
 * before any store lookup (and without costing one).
 */
export function parseApiKey(text: string): { id: string } {
  if (typeof text !== 'string' || !text.startsWith(API_KEY_PREFIX)) {
    throw new CredentialError('malformed', `not a warden API key: it does not start with ${API_KEY_PREFIX}; ${EXPECTED_SHAPE}`);
  }
  if (!API_KEY_PATTERN.test(text)) {
    const what = text.length === API_KEY_LENGTH ? 'it contains characters other than letters and digits' : `it is ${text.length} characters long`;
    throw new CredentialError('malformed', `not a warden API key: ${what}; ${EXPECTED_SHAPE}. Copy the whole key, without spaces or quotes`);
  }
  const id = text.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + ID_LENGTH);
  const body = text.slice(0, API_KEY_LENGTH - CHECKSUM_LENGTH);
  const expected = Buffer.from(checksum(body));
  const actual = Buffer.from(text.slice(API_KEY_LENGTH - CHECKSUM_LENGTH));
  if (!timingSafeEqual(expected, actual)) {
    throw new CredentialError('bad_checksum', `API key ${id} fails its checksum: check for a copy/paste error`, id);
  }
  return { id };
}

/**
 * Hex SHA-256 of the whole key: what the store keeps instead of the key.
 *
 * A fast, unsalted hash is the right tool here. The secret is 256 random bits, so trying candidates is
 * hopeless at any hash speed, and a stolen store file gives nothing usable. A slow KDF (bcrypt, scrypt,
 * argon2) only pays off for low-entropy secrets such as passwords, and it would cost milliseconds of CPU on
 * every request. Salts, likewise, defeat precomputed tables for guessable secrets; there are none here.
 */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
