import { randomUUID } from 'node:crypto';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { DataSource, type Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { OAuthError } from '../common/oauth-error.js';
import { decryptWithSecrets, encryptWithSecret } from '../common/secrets.js';
import { ConfigService } from '../config/config.service.js';
import { DatabaseEvents } from '../database/database-events.js';
import { SigningKeyEntity, type SigningAlgorithm } from './signing-key.entity.js';

export interface LoadedKey {
  kid: string;
  alg: SigningAlgorithm;
  state: 'active' | 'retired';
  publicJwk: JWK;
  publicKey: CryptoKey;
  retiredAt: Date | null;
}

/** How long a key set read from the database is trusted; rotations elsewhere also drop it at once (KEYS_CHANGED). */
const CACHE_MS = 10_000;
const KEYS_CHANGED = 'signing-keys-changed';
// Any fixed number works; it only has to be the same in every instance.
const ROTATION_LOCK = 7_591_003;
/** Clock skew allowed for verifiers when deciding how long a retired key stays published. */
const RETENTION_MARGIN_S = 60;

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

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: ConfigService,
    private readonly events: DatabaseEvents,
  ) {
    events.subscribe(KEYS_CHANGED, () => {
      this.generation += 1;
      this.cache = undefined;
    });
  }

  private get repo(): Repository<SigningKeyEntity> {
    return this.dataSource.getRepository(SigningKeyEntity);
  }

  private get algorithm(): SigningAlgorithm {
    return this.config.get('jwt.signing_algorithm') as SigningAlgorithm;
  }

  async onModuleInit(): Promise<void> {
    await this.ensureActiveKey(this.algorithm);
  }

  /** Creates an active key for `alg` unless one exists; concurrent starts settle on the unique index. */
  private async ensureActiveKey(alg: SigningAlgorithm): Promise<void> {
    if (await this.repo.existsBy({ alg, state: 'active' })) return;
    const key = await this.generate(alg);
    await this.repo
      .createQueryBuilder()
      .insert()
      .into(SigningKeyEntity)
      .values(key as QueryDeepPartialEntity<SigningKeyEntity>)
      .orIgnore()
      .execute();
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

  /** Retires the active key of the configured algorithm and activates a new one. */
  async rotate(): Promise<SigningKeyEntity> {
    const alg = this.algorithm;
    const fresh = await this.generate(alg);
    await this.dataSource.transaction(async (m) => {
      // Concurrent rotations take turns, so each retires the key the previous one activated.
      await m.query('SELECT pg_advisory_xact_lock($1)', [ROTATION_LOCK]);
      await m
        .createQueryBuilder()
        .update(SigningKeyEntity)
        .set({ state: 'retired', retiredAt: () => 'now()' })
        .where('alg = :alg AND state = :state', { alg, state: 'active' })
        .execute();
      await m.getRepository(SigningKeyEntity).insert(fresh as QueryDeepPartialEntity<SigningKeyEntity>);
    });
    this.generation += 1;
    this.cache = undefined;
    await this.events.publish(KEYS_CHANGED);
    return fresh;
  }

  list(): Promise<SigningKeyEntity[]> {
    return this.repo.find({ order: { createdAt: 'DESC' } });
  }

  /** Keys whose signatures may still be in use: the active ones and those retired within a token lifetime. */
  private async load(): Promise<LoadedKey[]> {
    const retention = ((this.config.get('ttl.access_token') as number) + RETENTION_MARGIN_S) * 1000;
    const rows = await this.repo.find();
    const usable = rows.filter((k) => k.state === 'active' || (k.retiredAt && k.retiredAt.getTime() + retention > Date.now()));
    return Promise.all(
      usable.map(async (k) => ({
        kid: k.kid,
        alg: k.alg,
        state: k.state,
        publicJwk: k.publicJwk as JWK,
        publicKey: (await importJWK(k.publicJwk as JWK, k.alg)) as CryptoKey,
        retiredAt: k.retiredAt,
      })),
    );
  }

  private privateKey(kid: string): Promise<CryptoKey> {
    let key = this.privateKeys.get(kid);
    if (!key) {
      key = this.repo.findOneByOrFail({ kid }).then(async (row) => {
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

  /** The key new tokens are signed with, and its private half. */
  async activeKey(): Promise<{ kid: string; alg: SigningAlgorithm; privateKey: CryptoKey }> {
    const alg = this.algorithm;
    let key = (await this.keys()).find((k) => k.state === 'active' && k.alg === alg);
    if (!key) {
      await this.ensureActiveKey(alg);
      key = (await this.keys(true)).find((k) => k.state === 'active' && k.alg === alg);
    }
    if (!key) throw new OAuthError('server_error');
    return { kid: key.kid, alg: key.alg, privateKey: await this.privateKey(key.kid) };
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
