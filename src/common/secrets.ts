// Hashing and comparison of secrets. Only hashes are stored; comparisons take
// the same time whatever the input.
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, randomFillSync, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

/**
 * Bytes from the CSPRNG, drawn a batch at a time: each synchronous call into it
 * costs far more than the bytes (it creates a native job object), and every
 * token endpoint and registration call needs fresh tokens. Each byte is handed
 * out once and zeroed as it is (as Node's own randomUUID keeps a batch).
 */
const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let poolOffset = POOL_SIZE;

/** A fresh random value with `bytes` bytes of entropy, base64url-encoded. */
export function randomToken(bytes = 32): string {
  if (bytes > POOL_SIZE) return randomBytes(bytes).toString('base64url');
  if (poolOffset + bytes > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const start = poolOffset;
  poolOffset += bytes;
  const token = pool.toString('base64url', start, poolOffset);
  pool.fill(0, start, poolOffset);
  return token;
}

export function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * The stored form of a server-issued bearer token with 256 random bits
 * (initial and registration access tokens): SHA-256, base64url. It survives
 * rotation of secrets.system, and the tokens' entropy makes a slow hash pointless.
 */
export function tokenHash(token: string): string {
  return sha256(token).toString('base64url');
}

/** Keyed hash used to look tokens up by value without storing the value. */
export function keyedHash(key: string, value: string): string {
  return createHmac('sha256', key).update(value).digest('base64url');
}

/**
 * The keyed hash of a token under every system secret, first (the one new
 * tokens are stored under) first: rotating secrets.system keeps issued tokens readable.
 */
export function keyedHashes(secrets: readonly string[], value: string): string[] {
  return secrets.map((secret) => keyedHash(secret, value));
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

function aesKey(secret: string): Buffer {
  return createHash('sha256').update(`registrar:aes-256-gcm:${secret}`).digest();
}

/** AES-256-GCM under the first system secret: base64url(iv | tag | ciphertext). */
export function encryptWithSecret(plaintext: string, secret: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', aesKey(secret), iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url');
}

/** Decrypts with whichever of the system secrets encrypted the value; throws if none did. */
export function decryptWithSecrets(encoded: string, secrets: readonly string[]): string {
  const raw = Buffer.from(encoded, 'base64url');
  const iv = raw.subarray(0, 12);
  const tag = raw.subarray(12, 28);
  const ciphertext = raw.subarray(28);
  for (const secret of secrets) {
    try {
      const decipher = createDecipheriv('aes-256-gcm', aesKey(secret), iv);
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch {
      // try the next secret
    }
  }
  throw new Error('no configured system secret decrypts this value (was secrets.system rotated without keeping the old secret?)');
}

/**
 * Verifies client secrets for authentication. scrypt (operator-chosen secrets)
 * is costly on purpose, so: once a secret has matched its stored hash, later
 * attempts against that hash compare a per-process HMAC instead (a wrong
 * secret is refused without scrypt), and at most `concurrency` scrypt runs
 * happen at once, so that failed guesses cannot occupy libuv's thread pool.
 */
export class SecretVerifier {
  private readonly macKey = randomBytes(32).toString('base64url');
  private readonly verified = new Map<string, string>();
  private running = 0;
  private readonly queue: Array<() => void> = [];

  constructor(
    private readonly concurrency = 2,
    private readonly maxEntries = 10_000,
  ) {}

  async verify(secret: string, stored: string): Promise<boolean> {
    if (!stored.startsWith('scrypt$')) return verifyClientSecret(secret, stored);
    const mac = keyedHash(this.macKey, secret);
    const known = this.verified.get(stored);
    if (known !== undefined) return safeEqual(known, mac);
    if (this.running >= this.concurrency) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.running += 1;
    let ok: boolean;
    try {
      ok = await verifyClientSecret(secret, stored);
    } finally {
      this.running -= 1;
      this.queue.shift()?.();
    }
    if (ok) {
      if (this.verified.size >= this.maxEntries) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(stored, mac);
    }
    return ok;
  }
}
