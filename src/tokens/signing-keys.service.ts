import { randomUUID } from 'node:crypto';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { AuditService } from '../audit/audit.service.js';
import { OAuthError } from '../common/oauth-error.js';
import { decryptWithSecrets, encryptWithSecret } from '../common/secrets.js';
import { ConfigService } from '../config/config.service.js';
import { Database } from '../database/database.js';
import { DatabaseEvents } from '../database/database-events.js';
import { SigningKeyEntity, type SigningAlgorithm } from './signing-key.entity.js';
import { SigningKeysRepository } from './signing-keys.repository.js';

export interface LoadedKey {
  kid: string;
  alg: SigningAlgorithm;
  state: 'active' | 'retired';
  publicJwk: JWK;
  publicKey: CryptoKey;
  retiredAt: Date | null;
  signedUntil: Date | null;
}

/** How long a key set read from the database is trusted; rotations elsewhere also drop it at once (KEYS_CHANGED). */
const CACHE_MS = 10_000;
const KEYS_CHANGED = 'signing-keys-changed';
/** Clock skew allowed for verifiers when deciding how long a retired key stays published. */
const RETENTION_MARGIN_S = 60;
/** signed_until moves in steps of this many seconds, so recording a key's use is one write per step, not per token. */
const SIGNED_UNTIL_STEP_S = 3600;

/**
 * Signing keys live in the database, so every instance signs with and
 * publishes the same keys; each instance caches them briefly and re-reads on
 * an unknown kid (a rotation done by another instance).
 */
@Injectable()
export class SigningKeysService implements OnModuleInit {
  private cache?: { loadedAt: number; keys: LoadedKey[] };
  /** Bumped by every change, so a load that raced one is not kept. */
  private generation = 0;
  private loading?: Promise<LoadedKey[]>;
  /** Decrypted private keys by kid; only active keys are ever decrypted. */
  private readonly privateKeys = new Map<string, Promise<CryptoKey>>();
  /** The signed_until this instance last wrote (or saw) per kid, in epoch seconds. */
  private readonly signedUntil = new Map<string, number>();

  constructor(
    private readonly repository: SigningKeysRepository,
    private readonly config: ConfigService,
    private readonly events: DatabaseEvents,
    private readonly database: Database,
    private readonly audit: AuditService,
  ) {
    events.subscribe(KEYS_CHANGED, () => {
      this.generation += 1;
      this.cache = undefined;
    });
  }

  private get algorithm(): SigningAlgorithm {
    return this.config.get('jwt.signing_algorithm') as SigningAlgorithm;
  }

  async onModuleInit(): Promise<void> {
    await this.ensureActiveKey(this.algorithm);
  }

  /** Creates an active key for `alg` unless one exists; concurrent starts settle on the unique index. */
  private async ensureActiveKey(alg: SigningAlgorithm): Promise<void> {
    if (await this.repository.hasActive(alg)) return;
    await this.repository.insertUnlessActive(await this.generate(alg));
    this.generation += 1;
    this.cache = undefined;
  }

  private async generate(alg: SigningAlgorithm): Promise<SigningKeyEntity> {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
    const kid = randomUUID();
    const key = new SigningKeyEntity();
    key.kid = kid;
    key.alg = alg;
    key.state = 'active';
    key.publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
    key.privateJwkEncrypted = encryptWithSecret(JSON.stringify(await exportJWK(privateKey)), this.config.systemSecrets()[0]);
    key.createdAt = new Date();
    key.retiredAt = null;
    return key;
  }

  /**
   * Retires every active key and activates a new one for each of their
   * algorithms (the configured one, and those clients' id_token_signed_response_alg
   * or userinfo_signed_response_alg called for); returns the configured algorithm's new key.
   */
  async rotate(): Promise<SigningKeyEntity> {
    const algs = [...new Set<SigningAlgorithm>([this.algorithm, ...(await this.repository.activeAlgorithms())])];
    // Generated before the transaction: on the embedded database it holds the only connection.
    const fresh = await Promise.all(algs.map((alg) => this.generate(alg)));
    await this.database.transaction(async () => {
      await this.repository.replaceActive(algs, fresh);
      await this.audit.record({ type: 'admin.key.rotated', details: { kids: fresh.map((k) => k.kid), algs } });
    });
    this.generation += 1;
    this.cache = undefined;
    await this.events.publish(KEYS_CHANGED);
    return fresh[0];
  }

  list(): Promise<SigningKeyEntity[]> {
    return this.repository.newestFirst();
  }

  /**
   * Keys whose signatures may still be in use: the active ones, and retired
   * ones until the last token they signed has expired (per-client lifespans
   * can exceed ttl.*), and at least a default token lifetime after retirement.
   */
  private async load(): Promise<LoadedKey[]> {
    const ttl = Math.max(this.config.get('ttl.access_token'), this.config.get('ttl.id_token'));
    const margin = RETENTION_MARGIN_S * 1000;
    const now = Date.now();
    const rows = await this.repository.all();
    const usable = rows.filter(
      (k) =>
        k.state === 'active' ||
        (k.retiredAt && k.retiredAt.getTime() + ttl * 1000 + margin > now) ||
        (k.signedUntil && k.signedUntil.getTime() + margin > now),
    );
    return Promise.all(
      usable.map(async (k) => ({
        kid: k.kid,
        alg: k.alg,
        state: k.state,
        publicJwk: k.publicJwk as JWK,
        publicKey: (await importJWK(k.publicJwk as JWK, k.alg)) as CryptoKey,
        retiredAt: k.retiredAt,
        signedUntil: k.signedUntil,
      })),
    );
  }

  private privateKey(kid: string): Promise<CryptoKey> {
    let key = this.privateKeys.get(kid);
    if (!key) {
      key = this.repository.findByKid(kid).then(async (row) => {
        const jwk = JSON.parse(decryptWithSecrets(row.privateJwkEncrypted, this.config.systemSecrets())) as JWK;
        return (await importJWK(jwk, row.alg)) as CryptoKey;
      });
      key.catch(() => this.privateKeys.delete(kid));
      this.privateKeys.set(kid, key);
    }
    return key;
  }

  private async keys(refresh = false): Promise<LoadedKey[]> {
    if (!refresh && this.cache && Date.now() - this.cache.loadedAt < CACHE_MS && this.events.live) return this.cache.keys;
    const generation = this.generation;
    this.loading ??= this.load().finally(() => (this.loading = undefined));
    const keys = await this.loading;
    if (generation === this.generation) this.cache = { loadedAt: Date.now(), keys };
    return keys;
  }

  /**
   * The key to sign a token expiring at `expiresAt` (epoch seconds) with, and
   * its private half: the active key of `alg` (default: jwt.signing_algorithm),
   * created on first need. The expiry is recorded so the key outlives its tokens.
   */
  async signingKey(expiresAt: number, alg: SigningAlgorithm = this.algorithm): Promise<{ kid: string; alg: SigningAlgorithm; privateKey: CryptoKey }> {
    let key = (await this.keys()).find((k) => k.state === 'active' && k.alg === alg);
    if (!key) {
      await this.ensureActiveKey(alg);
      key = (await this.keys(true)).find((k) => k.state === 'active' && k.alg === alg);
    }
    if (!key) throw new OAuthError('server_error');
    await this.recordUse(key, expiresAt);
    return { kid: key.kid, alg: key.alg, privateKey: await this.privateKey(key.kid) };
  }

  private async recordUse(key: LoadedKey, expiresAt: number): Promise<void> {
    const known = this.signedUntil.get(key.kid) ?? (key.signedUntil ? key.signedUntil.getTime() / 1000 : 0);
    if (expiresAt <= known) return;
    const until = Math.ceil(expiresAt / SIGNED_UNTIL_STEP_S) * SIGNED_UNTIL_STEP_S;
    await this.repository.extendSignedUntil(key.kid, until);
    this.signedUntil.set(key.kid, until);
  }

  /** A verification key by kid; an unknown kid triggers one re-read (another instance may have rotated). */
  async verificationKey(kid: string | undefined): Promise<LoadedKey | undefined> {
    if (!kid) return undefined;
    const cached = (await this.keys()).find((k) => k.kid === kid);
    return cached ?? (await this.keys(true)).find((k) => k.kid === kid);
  }

  /** The public JWK Set (RFC 7517) served at /.well-known/jwks.json; rotations elsewhere drop the cache at once. */
  async jwks(): Promise<{ keys: JWK[] }> {
    return { keys: (await this.keys()).map((k) => k.publicJwk) };
  }
}
