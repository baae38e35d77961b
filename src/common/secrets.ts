// Hashing and comparison of secrets. Only hashes are stored; comparisons take
// the same time whatever the input.
import { createHash, createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

/** A fresh random value with `bytes` bytes of entropy, base64url-encoded. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Keyed hash used to look tokens up by value without storing the value. */
export function keyedHash(key: string, value: string): string {
  return createHmac('sha256', key).update(value).digest('base64url');
}

/** Constant-time equality of two strings of any length. */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

/** True when `candidate` equals any of `allowed`; every entry is compared. */
export function matchesAny(candidate: string, allowed: readonly string[]): boolean {
  let found = false;
  for (const value of allowed) found = safeEqual(candidate, value) || found;
  return found;
}

/**
 * Hashes a client secret. Generated secrets carry 256 random bits, so one
 * SHA-256 is enough and keeps authentication fast; secrets an operator chose
 * may be guessable and get scrypt.
 */
export async function hashClientSecret(secret: string, generated: boolean): Promise<string> {
  if (generated) return `sha256$${sha256(secret).toString('base64url')}`;
  const salt = randomBytes(16);
  const derived = await scrypt(secret, salt, 32);
  return `scrypt$${salt.toString('base64url')}$${derived.toString('base64url')}`;
}

export async function verifyClientSecret(secret: string, stored: string): Promise<boolean> {
  const [scheme, a, b] = stored.split('$');
  if (scheme === 'sha256' && a) return timingSafeEqual(sha256(secret), Buffer.from(a, 'base64url'));
  if (scheme === 'scrypt' && a && b) {
    const expected = Buffer.from(b, 'base64url');
    const derived = await scrypt(secret, Buffer.from(a, 'base64url'), expected.length);
    return timingSafeEqual(derived, expected);
  }
  return false;
}
